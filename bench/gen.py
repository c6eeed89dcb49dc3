"""Deterministic synthetic observation logs for the benchmark (JSON Lines in the exchange format).

The log covers 2020-11-10..2024-06-30 and looks like what a busy monitor would accumulate:

- mostly `ceasefire.breach` incidents (actors AM, AZ, NK; conflict zone, some on the state border),
  reported by sources of every alignment (AM, AZ, NK, TR, RU, independent), with denials from the
  accused side, clustered around the escalations of 2021-05, 2022-09 and 2023-09;
- daily contingent counts (personnel, APCs, vehicles) from the Russian MoD within the caps, with
  occasional allegations above them and reported ranges (some straddling a cap);
- `armed-forces.presence` reports about AM and NK forces, and AM denials;
- `corridor.obstruction` incidents with `date_end` (AZ as actor), and AZ denials;
- detainee reports, transport and transit blockages, displaced returns (some UNHCR-supervised),
  monitoring-centre reports;
- the deadline and establishment events (district returns, deployment complete, route plan);
- a few corrections (`supersedes`) and retractions of earlier lines, and one amendment.

Usage: python bench/gen.py --size 100000 --out /tmp/log.jsonl [--seed 20201110]
"""

from __future__ import annotations

import argparse
import bisect
import datetime as dt
import json
import random
from pathlib import Path

START = dt.date(2020, 11, 10)
END = dt.date(2024, 6, 30)
DAYS = (END - START).days + 1
DEFAULT_SEED = 20201110

SOURCES = {
    "AM": ["Armenian Ministry of Defence", "Armenpress", "Armenian Foreign Ministry", "news.am",
           "Human Rights Defender of Armenia", "Armenian National Security Service"],
    "AZ": ["Azerbaijani Ministry of Defence", "APA", "Trend", "Azertac", "Azerbaijani Foreign Ministry",
           "Azerbaijani State Border Service"],
    "NK": ["Defence Army (NK)", "Artsakhpress", "NK Human Rights Ombudsman", "NK Information Centre"],
    "TR": ["Turkish Ministry of Defence", "Anadolu Agency", "Daily Sabah"],
    "RU": ["Russian Ministry of Defence", "TASS", "RIA Novosti", "Russian peacekeeping contingent bulletin",
           "Russian MFA"],
    "independent": ["ICRC", "UNHCR", "International Crisis Group", "OC Media", "Eurasianet", "Human Rights Watch",
                    "Amnesty International", "EU Monitoring Capacity", "monitor patrol"],
}
METHODS = ["seen", "heard", "imagery", "statement", "media-report"]
PLACES = ["Shusha", "Martuni", "Askeran", "Aghdam", "Fuzuli", "Khojavend", "Lachin corridor", "Stepanakert",
          "Hadrut", "Kalbajar", "Jermuk", "Sotk", "Tegh", "Kelbajar pass", "Ishkhanadzor"]
BORDER_PLACES = ["Sotk", "Jermuk", "Tegh", "Verin Shorzha", "Nerkin Hand", "Gegharkunik", "Tavush"]

# share of observation lines per family (the rest of the generator's choices are uniform)
MIX = [
    ("breach", 0.620),
    ("count", 0.180),
    ("presence", 0.050),
    ("detainees", 0.050),
    ("corridor", 0.040),
    ("transport", 0.020),
    ("displaced", 0.020),
    ("transit", 0.010),
    ("centre", 0.010),
]

# periods of escalation: (first day, last day, relative weight per day)
ESCALATIONS = [(dt.date(2021, 5, 12), dt.date(2021, 6, 10), 8.0), (dt.date(2021, 11, 16), dt.date(2021, 11, 20), 12.0),
               (dt.date(2022, 8, 1), dt.date(2022, 8, 5), 10.0), (dt.date(2022, 9, 12), dt.date(2022, 9, 16), 25.0),
               (dt.date(2023, 9, 19), dt.date(2023, 9, 21), 30.0)]


def _day_weights() -> list[float]:
    weights = []
    for offset in range(DAYS):
        day = START + dt.timedelta(days=offset)
        weight = 1.0
        for first, last, extra in ESCALATIONS:
            if first <= day <= last:
                weight = extra
        weights.append(weight)
    cumulative = []
    running = 0.0
    for weight in weights:
        running += weight
        cumulative.append(running)
    return cumulative


class Generator:
    """Draws observations from a seeded random source; `lines(n)` yields exactly n JSON lines."""

    def __init__(self, seed: int = DEFAULT_SEED):
        self.rng = random.Random(seed)
        self.cumulative = _day_weights()

    # ---- helpers -------------------------------------------------------------------------------

    def day(self, weighted: bool = True) -> dt.date:
        rng = self.rng
        if weighted:
            offset = bisect.bisect_left(self.cumulative, rng.random() * self.cumulative[-1])
        else:
            offset = rng.randrange(DAYS)
        return START + dt.timedelta(days=min(offset, DAYS - 1))

    def date_text(self, day: dt.date) -> str:
        rng = self.rng
        roll = rng.random()
        if roll < 0.75:
            return day.isoformat()
        hour, minute = rng.randrange(24), rng.randrange(0, 60, 5)
        if roll < 0.95:
            return f"{day.isoformat()}T{hour:02d}:{minute:02d}:00"
        return f"{day.isoformat()}T{hour:02d}:{minute:02d}:00+04:00"  # Baku or Yerevan time

    def source(self, party: str) -> dict:
        return {"source": self.rng.choice(SOURCES[party]), "source_party": party}

    def extras(self, obs: dict, place_from: list[str] = PLACES) -> dict:
        rng = self.rng
        obs["method"] = rng.choice(METHODS)
        if rng.random() < 0.6:
            obs["place"] = rng.choice(place_from)
        if rng.random() < 0.3:
            obs["url"] = f"https://example.org/report/{rng.randrange(10**7)}"
        if rng.random() < 0.15:
            obs["quote"] = "“" + rng.choice(["positions came under small-arms fire", "units opened fire",
                                              "no violation was recorded", "the road was closed for several hours",
                                              "servicemen remain in detention"]) + "”"
        if rng.random() < 0.1:
            obs["notes"] = "synthetic benchmark line; details paraphrased from the source"
        return obs

    # ---- families ------------------------------------------------------------------------------

    def breach(self) -> dict:
        rng = self.rng
        actor = rng.choices(["AM", "AZ", "NK"], [0.35, 0.4, 0.25])[0]
        accused_side = "AZ" if actor == "AZ" else "AM"
        if rng.random() < 0.12:  # the accused side denies
            party = actor if actor != "AZ" else rng.choice(["AZ", "AZ", "TR"])
            claim = "denies"
        else:
            claim = "affirms"
            other = ["AM", "NK"] if accused_side == "AZ" else ["AZ", "TR"]
            party = rng.choices([*other, "RU", "independent", accused_side], [0.38, 0.22, 0.18, 0.14, 0.08])[0]
            if party == "AM" and actor == "NK":
                party = rng.choice(["AM", "NK"])
        subject = "state-border" if actor != "NK" and rng.random() < 0.12 else "conflict-zone"
        day = self.day()
        obs = {"kind": "ceasefire.breach", "date": self.date_text(day), "actor": actor, **self.source(party)}
        if claim == "denies":
            obs["claim"] = "denies"
        if subject == "state-border" or rng.random() < 0.5:
            obs["subject"] = subject
        return self.extras(obs, BORDER_PLACES if subject == "state-border" else PLACES)

    CAPS = {"contingent.personnel": 1960, "contingent.apc": 90, "contingent.vehicles": 380}
    # figures as sources give them: the contingent's own (at or a little below the cap), round allegations
    # above it, and ranges ("7,000-8,000"), some straddling the cap
    BELOW = {"contingent.personnel": [10, 20, 40, 60, 100], "contingent.apc": [1, 2, 4, 6], "contingent.vehicles": [5, 10, 20, 30]}
    ABOVE = {"contingent.personnel": [2000, 2500, 3000, 4000, 5000, 8000, 10000], "contingent.apc": [100, 120, 150, 200],
             "contingent.vehicles": [400, 450, 500, 600, 800]}
    RANGES = {"contingent.personnel": [(1900, 2100), (1800, 1960), (2500, 3000), (3000, 5000), (7000, 8000), (9000, 10000)],
              "contingent.apc": [(80, 100), (85, 90), (100, 150), (150, 200)],
              "contingent.vehicles": [(350, 400), (300, 380), (400, 500), (500, 700)]}

    def count(self) -> dict:
        rng = self.rng
        kind = rng.choice(list(self.CAPS))
        cap = self.CAPS[kind]
        day = self.day(weighted=False)
        roll = rng.random()
        if roll < 0.80:  # the contingent's own daily figures, within the cap
            obs = {"kind": kind, "date": day.isoformat(), "actor": "RU", **self.source("RU"),
                   "value": cap if rng.random() < 0.85 else cap - rng.choice(self.BELOW[kind])}
        elif roll < 0.90:  # allegations above the cap
            party = rng.choices(["AZ", "AM", "TR", "NK", "independent"], [0.45, 0.2, 0.15, 0.1, 0.1])[0]
            obs = {"kind": kind, "date": day.isoformat(), "actor": "RU", **self.source(party)}
            if rng.random() < 0.5:
                obs["value"] = rng.choice(self.ABOVE[kind])
            else:
                obs["low"], obs["high"] = rng.choice(self.RANGES[kind][2:])
        elif roll < 0.96:  # reported ranges, some straddling the cap
            party = rng.choice(["AZ", "AM", "RU", "independent", "TR"])
            obs = {"kind": kind, "date": day.isoformat(), "actor": "RU", **self.source(party)}
            obs["low"], obs["high"] = rng.choice(self.RANGES[kind][:2])
        else:  # other observers' counts within the cap
            party = rng.choice(["independent", "AM", "AZ"])
            obs = {"kind": kind, "date": day.isoformat(), "actor": "RU", **self.source(party),
                   "value": cap - rng.choice([0, *self.BELOW[kind]])}
        return self.extras(obs)

    def presence(self) -> dict:
        rng = self.rng
        actor = rng.choices(["AM", "NK"], [0.6, 0.4])[0]
        day = self.day()
        if rng.random() < 0.2:
            return self.extras({"kind": "armed-forces.presence", "date": self.date_text(day), "actor": actor,
                                **self.source("AM" if actor == "AM" else rng.choice(["AM", "NK"])), "claim": "denies"})
        party = rng.choices(["AZ", "TR", "RU", "independent"], [0.6, 0.15, 0.15, 0.1])[0]
        obs = {"kind": "armed-forces.presence", "date": self.date_text(day), "actor": actor, **self.source(party)}
        if rng.random() < 0.4:
            obs["value"] = rng.choice([100, 200, 300, 500, 1000, 2000, 3000, 5000, 10000])
        return self.extras(obs)

    def detainees(self) -> dict:
        rng = self.rng
        actor = rng.choices(["AZ", "AM"], [0.8, 0.2])[0]
        day = self.day(weighted=False)
        if rng.random() < 0.15:
            return self.extras({"kind": "detainees.withheld", "date": day.isoformat(), "actor": actor,
                                **self.source(actor), "claim": "denies"})
        party = rng.choices(["AM", "NK", "AZ", "independent", "RU"], [0.35, 0.15, 0.15, 0.25, 0.1])[0]
        obs = {"kind": "detainees.withheld", "date": day.isoformat(), "actor": actor, **self.source(party)}
        if rng.random() < 0.6:
            obs["value"] = rng.choice([1, 2, 3, 4, 5, 6, 10, 19, 38, 40, 62, 100, 200, 300])
        return self.extras(obs)

    def corridor(self) -> dict:
        rng = self.rng
        day = self.day(weighted=False)
        if day >= dt.date(2022, 12, 12) and rng.random() < 0.5:  # the blockade: long spans
            day = dt.date(2022, 12, 12) + dt.timedelta(days=rng.randrange(0, 280))
        actor = "AZ" if rng.random() < 0.92 else rng.choice(["NK", "AM"])
        end = day + dt.timedelta(days=rng.choice([0, 0, 1, 2, 7, 30, 90]))
        if end > END:
            end = END
        if rng.random() < 0.15 and actor == "AZ":
            obs = {"kind": "corridor.obstruction", "date": day.isoformat(), "date_end": end.isoformat(), "actor": "AZ",
                   **self.source(rng.choice(["AZ", "TR"])), "claim": "denies"}
        else:
            party = rng.choices(["AM", "NK", "RU", "independent", "AZ"], [0.3, 0.3, 0.15, 0.2, 0.05])[0]
            obs = {"kind": "corridor.obstruction", "date": day.isoformat(), "date_end": end.isoformat(),
                   "actor": actor, **self.source(party)}
        return self.extras(obs, ["Lachin corridor", "Hakari bridge", "Berdzor", "Shusha"])

    def transport(self) -> dict:
        rng = self.rng
        actor = rng.choice(["AM", "AZ"])
        party = rng.choice(["AM", "AZ", "TR", "RU", "independent"])
        obs = {"kind": "transport.blocked", "date": self.day(False).isoformat(), "actor": actor, **self.source(party)}
        if party == actor and rng.random() < 0.5:
            obs["claim"] = "denies"
        return self.extras(obs)

    def transit(self) -> dict:
        rng = self.rng
        party = rng.choice(["AZ", "TR", "AM", "independent"])
        obs = {"kind": "transit.obstruction", "date": self.day(False).isoformat(), "actor": "AM", **self.source(party)}
        if party == "AM":
            obs["claim"] = "denies"
        return self.extras(obs, ["Meghri", "Nakhchivan", "Syunik"])

    def displaced(self) -> dict:
        rng = self.rng
        actor = rng.choice(["AM", "AZ", "NK"])
        obs = {"kind": "displaced.return", "date": self.day(False).isoformat(), "actor": actor,
               **self.source(rng.choice(["AM", "AZ", "NK", "RU", "independent"]))}
        if rng.random() < 0.3:
            obs["supervised_by"] = "UNHCR"
        if rng.random() < 0.5:
            obs["value"] = rng.choice([10, 20, 50, 100, 200, 500, 1000, 5000])
        return self.extras(obs)

    def centre(self) -> dict:
        rng = self.rng
        day = max(self.day(False), dt.date(2021, 1, 30))
        return self.extras({"kind": "monitoring-centre.operating", "date": day.isoformat(), "actor": "RU",
                            **self.source(rng.choice(["RU", "TR", "AZ", "independent"]))}, ["Aghdam"])

    # ---- the log -------------------------------------------------------------------------------

    def fixed_events(self) -> list[dict]:
        """The deadline and establishment events (a few dozen lines at every size)."""
        events = []
        for district, day, sources in (("Aghdam", "2020-11-20", ["AZ", "RU", "independent"]),
                                       ("Kalbajar", "2020-11-25", ["AZ", "RU", "AM"]),
                                       ("Lachin", "2020-12-01", ["AZ", "RU", "independent", "TR"])):
            for party in sources:
                events.append({"kind": "district.returned", "date": day, "actor": "AM", "subject": district,
                               **self.source(party), "method": "statement"})
        for party in ("RU", "RU", "AZ", "independent"):
            events.append({"kind": "contingent.deployment-complete", "date": "2020-11-20", "actor": "RU",
                           **self.source(party), "method": "statement"})
        events.append({"kind": "monitoring-centre.operating", "date": "2021-01-30", "actor": "RU",
                       **self.source("RU"), "place": "Aghdam", "method": "statement"})
        events.append({"kind": "displaced.return", "date": "2020-11-28", "actor": "NK", "value": 1200,
                       "supervised_by": "UNHCR", **self.source("independent")})
        return events

    def observations(self, count: int) -> list[dict]:
        """`count` observations, sorted by date (a monitor logs in roughly date order)."""
        rng = self.rng
        families = [name for name, _ in MIX]
        weights = [share for _, share in MIX]
        fixed = self.fixed_events()
        chosen = rng.choices(families, weights, k=max(0, count - len(fixed)))
        items = [getattr(self, family)() for family in chosen] + fixed[:count]
        keyed = [(obs["date"][:10], index) for index, obs in enumerate(items)]
        keyed.sort()
        ordered = [items[index] for _, index in keyed]
        # some reports arrive late: move 2% of them later in the file
        for _ in range(len(ordered) // 50):
            a = rng.randrange(len(ordered))
            b = min(len(ordered) - 1, a + rng.randrange(1, 2000))
            ordered[a], ordered[b] = ordered[b], ordered[a]
        return ordered

    def lines(self, n: int) -> list[str]:
        """Exactly n JSON lines: observations, then corrections, retractions and one amendment (~0.7%)."""
        rng = self.rng
        n_amend = 1 if n >= 100 else 0
        n_retract = n // 500
        n_correct = n // 200
        base = self.observations(n - n_amend - n_retract - n_correct)
        lines = [json.dumps(obs, ensure_ascii=False) for obs in base]
        # corrections and retractions refer to the line's ID (IDs are line numbers in a fresh store)
        targets = rng.sample(range(1, len(base) + 1), n_retract + n_correct)
        for target in targets[:n_correct]:
            obs = dict(base[target - 1])
            kind = obs["kind"]
            if "value" in obs:
                obs["value"] = max(1, obs["value"] + rng.choice([-10, -1, 1, 10]))
            elif kind in ("ceasefire.breach", "corridor.obstruction"):
                obs["date"] = (dt.date.fromisoformat(obs["date"][:10]) + dt.timedelta(days=rng.choice([-1, 1]))).isoformat()
                if "date_end" in obs and obs["date_end"] < obs["date"]:
                    obs["date_end"] = obs["date"]
                if obs["date"] < START.isoformat():
                    obs["date"] = START.isoformat()
            else:
                obs["notes"] = "corrected: source re-checked"
            lines.append(json.dumps({**obs, "supersedes": str(target)}, ensure_ascii=False))
        for target in targets[n_correct:]:
            lines.append(json.dumps({"retracts": str(target), "reason": "duplicate of an earlier report"}))
        if n_amend:
            lines.append(json.dumps({"record": "amendment", "obligation": "P6-new-route-plan", "term": "deadline",
                                     "value": "2024-11-10", "agreed_on": "2023-10-05", "by": ["AM", "AZ"],
                                     "source": "synthetic benchmark amendment"}))
        return lines


def write_log(path: Path, n: int, seed: int = DEFAULT_SEED) -> Path:
    """Write an n-line log to `path` (overwritten); returns the path."""
    lines = Generator(seed).lines(n)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        for line in lines:
            out.write(line + "\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args()
    write_log(args.out, args.size, args.seed)


if __name__ == "__main__":
    main()
