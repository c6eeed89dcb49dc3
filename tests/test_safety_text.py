"""Text from observations in reports: only http(s) links are taken on input; markdown emphasis, code and links are
escaped, so observation text renders as the text it is."""

from __future__ import annotations

import pytest

from compliance.clauses import load_agreement
from compliance.errors import InputError
from compliance.observation import parse_observation

AGREEMENT = load_agreement("nov-10-2020")
GOOD = {"kind": "ceasefire.breach", "date": "2021-07-13", "actor": "AZ", "source": "s", "source_party": "AM"}


@pytest.mark.parametrize("url", ["javascript:alert(1)", "data:text/html,<b>x</b>", "ftp://example.org/a",
                                 "www.example.org", "https://", "https:// example.org", "//example.org/x",
                                 "https://user@evil.example"])
def test_only_http_and_https_urls_are_accepted(url):
    with pytest.raises(InputError) as caught:
        parse_observation({**GOOD, "url": url}, AGREEMENT)
    assert caught.value.where == "url" and "http or https URL" in caught.value.reason


@pytest.mark.parametrize("url", ["https://example.org", "http://example.org/a?b=c&d=e#f", "HTTPS://Example.org/x"])
def test_http_urls_are_accepted(url):
    assert parse_observation({**GOOD, "url": url}, AGREEMENT).fields["url"] == url
