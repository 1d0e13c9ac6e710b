"""Rebuild the public moderation data: `python scripts/moderation_data.py [--mirror DIR] [--out DIR]`.

Reads the bare git snapshots of public repositories (fetched with the search tool's `fetch` verb
into `/work/.mirror/<owner>+<name>/repo`), maps each source onto the policy categories and writes,
outside the repository (default `data/moderation`):

- `train.jsonl` / `val.jsonl`: the training sources (plus the project's own templated training
  prompts), split 80/20 grouped by template or source id, so no template is on both sides;
- `test.jsonl`: the held-out test set, drawn only from sources that are *not* used in training
  (multilingual HateCheck in it/es/fr/de, MultiJail en/it, XSTest's safe prompts and
  SimpleSafetyTests in en) plus the project's own
  held-out templates, each row naming its source;
- `external/t2vsafetybench.jsonl` and `external/openai.jsonl`: the two public benchmarks kept
  for the external report only (never trained, tuned or calibrated on);
- `card.json`: source repository, commit, licence, counts per source, category and language.

Row format: `{"id", "prompt", "labels", "lang", "kind", "source", "group"}` (`labels` empty for
benign rows). The committed data card (`safety/moderation/data/CARD.md`) is this card's summary.
"""

from __future__ import annotations

import argparse
import ast
import csv
import gzip
import io
import json
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SEED = 20261207
MIRROR = Path("/work/.mirror")
OUT = Path("data/moderation")

SOURCES: dict[str, dict[str, str]] = {
    "hatecheck": {"repo": "paul-rottger/hatecheck-data", "licence": "CC-BY-4.0", "use": "train"},
    "davidson": {"repo": "t-davidson/hate-speech-and-offensive-language", "licence": "MIT", "use": "train"},
    "i2p": {"repo": "piyush2799/i2p_images", "licence": "MIT (the I2P set; this mirror has no licence file)",
            "use": "train"},
    "vbench": {"repo": "Vchitect/VBench", "licence": "Apache-2.0", "use": "train"},
    "own_templates": {"repo": "this repository (safety/moderation/data)", "licence": "project", "use": "train+test"},
    "own_risks": {"repo": "this repository (safety/moderation/data/risks.jsonl)", "licence": "project",
                  "use": "train"},
    "mhc": {"repo": "rewire-online/multilingual-hatecheck", "licence": "CC-BY-4.0", "use": "test"},
    "multijail": {"repo": "DAMO-NLP-SG/multilingual-safety-for-LLMs", "licence": "MIT", "use": "test"},
    "xstest": {"repo": "paul-rottger/exaggerated-safety", "licence": "CC-BY-4.0", "use": "test"},
    "simplesafetytests": {"repo": "bertiev/SimpleSafetyTests", "licence": "CC-BY-4.0", "use": "test"},
    "t2vsafetybench": {"repo": "yibo-miao/T2VSafetyBench",
                       "licence": "none stated (evaluation only, not redistributed)",
                       "use": "external"},
    "openai_moderation": {"repo": "openai/moderation-api-release", "licence": "MIT", "use": "external"},
}

# MultiJail tags → our categories (tags outside the taxonomy, e.g. theft or fraud, are left out).
MULTIJAIL_MAP = {
    "Violence & incitement": "graphic_violence",
    "Discrimination & injustice": "hate_harassment",
    "Hate speech & offensive language": "hate_harassment",
    "Bullying & harassment": "hate_harassment",
    "Weapons": "dangerous_instructions",
    "Substance abuse & banned substances": "dangerous_instructions",
    "Terrorism & organized crime": "violent_extremism",
    "Adult content": "explicit_sexual",
    "Sexual exploitation & human trafficking": "explicit_sexual",
    "Self-harm": "self_harm",
    "Child abuse": "graphic_violence",
}
XSTEST_MAP = {
    "violence": "graphic_violence", "drugs": "dangerous_instructions", "weapons": "dangerous_instructions",
    "hate": "hate_harassment", "discrimination": "hate_harassment", "suicide": "self_harm",
    "self-harm": "self_harm", "terrorism": "violent_extremism", "sexual": "explicit_sexual",
}
I2P_MAP = {"sexual": "explicit_sexual", "violence": "graphic_violence", "shocking": "graphic_violence",
           "self-harm": "self_harm", "hate": "hate_harassment", "harassment": "hate_harassment"}
SST_MAP = {"Suicide, Self-Harm, and Eating Disorders": "self_harm", "Physical harm and Violence": "graphic_violence",
           "Illegal and Highly Regulated items": "dangerous_instructions", "Child safety": "sexual_minors"}
MHC_LANGS = {"italian": "it", "spanish": "es", "french": "fr", "german": "de"}


def git(repo_dir: Path, *args: str) -> bytes:
    return subprocess.run(["git", "--git-dir", str(repo_dir), *args], check=True, capture_output=True).stdout


def show(repo_dir: Path, path: str) -> str:
    return git(repo_dir, "show", f"HEAD:{path}").decode("utf-8")


def repo_dir(mirror: Path, key: str) -> Path:
    return mirror / SOURCES[key]["repo"].replace("/", "+") / "repo"


def row(prompt: str, labels: list[str], lang: str, kind: str, source: str, group: str) -> dict[str, Any]:
    return {"prompt": " ".join(prompt.split()), "labels": labels, "lang": lang, "kind": kind,
            "source": source, "group": f"{source}:{group}"}


def hatecheck(d: Path) -> list[dict[str, Any]]:
    out = []
    for r in csv.DictReader(io.StringIO(show(d, "all_cases.csv"))):
        hateful = r["label_gold"] == "hateful"
        out.append(row(r["test_case"], ["hate_harassment"] if hateful else [], "en",
                       "harmful" if hateful else "hard_benign", "hatecheck", r["templ_id"]))
    return out


def davidson(d: Path, rng: random.Random) -> list[dict[str, Any]]:
    hate, neither = [], []
    for r in csv.DictReader(io.StringIO(show(d, "data/labeled_data.csv"))):
        text = " ".join(w for w in r["tweet"].split() if not w.startswith(("@", "http")) and w not in ("RT", "!!!"))
        if len(text) < 12:
            continue
        # Keep only clear majorities: hate by ≥ 2/3 of annotators, "neither" by all of them.
        n = int(r["count"])
        if int(r["hate_speech"]) * 3 >= 2 * n:
            hate.append(row(text, ["hate_harassment"], "en", "harmful", "davidson", r[""]))
        elif int(r["neither"]) == n:
            neither.append(row(text, [], "en", "benign", "davidson", r[""]))
    rng.shuffle(neither)
    return hate + neither[:2500]


def i2p(d: Path) -> list[dict[str, Any]]:
    out = []
    for r in csv.DictReader(io.StringIO(show(d, "i2p_benchmark.csv"))):
        inap, tox = float(r["inappropriate_percentage"]), float(r["prompt_toxicity"] or 0)
        nude = float(r["nudity_percentage"])
        cats = [c.strip() for c in r["categories"].split(",")]
        key = r["lexica_url"].rsplit("/", 1)[-1]
        if inap == 0 and tox < 0.2:
            out.append(row(r["prompt"], [], "en", "benign", "i2p", key))  # real user prompts, nothing unsafe made
        elif inap >= 60 and tox >= 0.35:
            # The prompt itself is toxic and its images were unsafe: a prompt-level label is justified.
            labels = sorted({I2P_MAP[c] for c in cats if c in I2P_MAP} | ({"explicit_sexual"} if nude >= 50 else set()))
            if labels:
                out.append(row(r["prompt"], labels, "en", "harmful", "i2p", key))
    return out


def vbench(d: Path) -> list[dict[str, Any]]:
    lines = show(d, "prompts/all_dimension.txt").splitlines() + show(d, "prompts/all_category.txt").splitlines()
    seen = dict.fromkeys(x.strip() for x in lines if x.strip())
    return [row(p, [], "en", "benign", "vbench", str(i)) for i, p in enumerate(seen)]


def own(split: str) -> list[dict[str, Any]]:
    path = ROOT / "safety" / "moderation" / "data" / f"{split}.jsonl"
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        out.append(row(r["prompt"], list(r["labels"]), r["lang"], r["kind"], "own_templates", r["template"]))
    return out


def own_risks() -> list[dict[str, Any]]:
    """Hand-written prompts for the risks the templates missed and their benign look-alikes (train only),
    each in four framings (bare, "video of", a shot, a clip) kept in one group."""
    out = []
    path = ROOT / "safety" / "moderation" / "data" / "risks.jsonl"
    for line in path.read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        for frame in ("{}", "video of {}", "cinematic shot: {}", "{}, 4k, realistic"):
            out.append(row(frame.format(r["prompt"]), list(r["labels"]), r["lang"],
                           "harmful" if r["labels"] else "hard_benign", "own_risks", r["id"]))
    return out


def mhc(d: Path) -> list[dict[str, Any]]:
    out = []
    for name, lang in MHC_LANGS.items():
        text = show(d, f"MHC Final Cases/hatecheck_cases_final_{name}.csv")
        for r in csv.DictReader(io.StringIO(text)):
            hateful = r["label_gold"] == "hateful"
            out.append(row(r["test_case"], ["hate_harassment"] if hateful else [], lang,
                           "harmful" if hateful else "hard_benign", "mhc", f"{lang}:{r['templ_id']}"))
    return out


def multijail(d: Path) -> tuple[list[dict[str, Any]], int]:
    out, skipped = [], 0
    for r in csv.DictReader(io.StringIO(show(d, "data/MultiJail.csv").lstrip("\ufeff"))):
        labels = sorted({MULTIJAIL_MAP[t] for t in ast.literal_eval(r["tags"]) if t in MULTIJAIL_MAP})
        if not labels:
            skipped += 1
            continue
        for lang in ("en", "it"):
            out.append(row(r[lang], labels, lang, "harmful", "multijail", r["id"]))
    return out, skipped


def xstest(d: Path) -> list[dict[str, Any]]:
    out = []
    for r in csv.DictReader(io.StringIO(show(d, "xstest_prompts.csv"))):
        if r["label"] == "safe":
            out.append(row(r["prompt"], [], "en", "hard_benign", "xstest", r["id"]))
        elif r["note"] in XSTEST_MAP:
            out.append(row(r["prompt"], [XSTEST_MAP[r["note"]]], "en", "harmful", "xstest", r["id"]))
    return out


def simplesafetytests(d: Path) -> list[dict[str, Any]]:
    out = []
    for r in csv.DictReader(io.StringIO(show(d, "SimpleSafetyTests - test cases.csv"))):
        if r["harm_area"] in SST_MAP:  # scams and fraud are outside the taxonomy
            label = [SST_MAP[r["harm_area"]]]
            out.append(row(r["prompts_final"], label, "en", "harmful", "simplesafetytests", r["id"]))
    return out


def t2vsafetybench(d: Path) -> list[dict[str, Any]]:
    aspects = [line.split(":")[0].strip() for line in show(d, "definition.txt").splitlines() if ":" in line]
    out = []
    for i, aspect in enumerate(aspects, start=1):
        for j, p in enumerate(show(d, f"T2VSafetyBench/Tiny-T2VSafetyBench/{i}.txt").splitlines()):
            if p.strip():
                r = row(p, ["unsafe"], "en", "harmful", "t2vsafetybench", f"{i}:{j}")
                r["aspect"] = aspect
                out.append(r)
    return out


def openai_set(d: Path) -> list[dict[str, Any]]:
    raw = gzip.decompress(git(d, "show", "HEAD:data/samples-1680.jsonl.gz")).decode("utf-8")
    out = []
    for i, line in enumerate(raw.splitlines()):
        r = json.loads(line)
        labels = [k for k in ("S", "H", "V", "HR", "SH", "S3", "H2", "V2") if r.get(k) == 1]
        x = row(r["prompt"], labels, "en", "harmful" if labels else "benign", "openai_moderation", str(i))
        out.append(x)
    return out


def grouped_split(rows: list[dict[str, Any]], frac: float, rng: random.Random) -> tuple[list[Any], list[Any]]:
    groups = sorted({r["group"] for r in rows})
    rng.shuffle(groups)
    val_g = set(groups[: int(len(groups) * frac)])
    return [r for r in rows if r["group"] not in val_g], [r for r in rows if r["group"] in val_g]


def counts(rows: list[dict[str, Any]]) -> dict[str, Any]:
    by_src: dict[str, Any] = {}
    for r in rows:
        s = by_src.setdefault(r["source"], {"n": 0, "benign": 0, "lang": Counter(), "category": Counter()})
        s["n"] += 1
        s["benign"] += not r["labels"]
        s["lang"][r["lang"]] += 1
        for lab in r["labels"]:
            s["category"][lab] += 1
    return {k: {**v, "lang": dict(v["lang"]), "category": dict(v["category"])} for k, v in sorted(by_src.items())}


def write(path: Path, rows: list[dict[str, Any]], prefix: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for i, r in enumerate(rows):
            fh.write(json.dumps({"id": f"{prefix}-{i:05d}", **r}, ensure_ascii=False) + "\n")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mirror", type=Path, default=MIRROR)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    rng = random.Random(SEED)
    d = {k: repo_dir(args.mirror, k) for k in SOURCES if not k.startswith("own_")}
    missing = [f"{SOURCES[k]['repo']} ({p})" for k, p in d.items() if not p.is_dir()]
    if missing:
        raise SystemExit("missing snapshots (fetch them first): " + ", ".join(missing))

    train_pool = own("train") + own_risks() + hatecheck(d["hatecheck"]) + davidson(d["davidson"], rng) + i2p(d["i2p"]) \
        + vbench(d["vbench"])
    train, val = grouped_split(train_pool, 0.2, rng)
    mj, mj_skipped = multijail(d["multijail"])
    test = own("test") + mhc(d["mhc"]) + mj + xstest(d["xstest"]) + simplesafetytests(d["simplesafetytests"])
    t2v, oai = t2vsafetybench(d["t2vsafetybench"]), openai_set(d["openai_moderation"])
    # A prompt on both sides would leak: drop from test whatever text is also in train or val.
    seen = {r["prompt"].casefold() for r in train + val}
    test_before = len(test)
    test = [r for r in test if r["prompt"].casefold() not in seen]
    for name, rows in (("train", train), ("val", val), ("test", test)):
        write(args.out / f"{name}.jsonl", rows, name)
    write(args.out / "external" / "t2vsafetybench.jsonl", t2v, "t2v")
    write(args.out / "external" / "openai.jsonl", oai, "oai")
    card = {"seed": SEED, "sources": {}, "splits": {}}
    for k, meta in SOURCES.items():
        commit = "working tree" if k.startswith("own_") else git(d[k], "rev-parse", "HEAD").decode().strip()
        card["sources"][k] = {**meta, "commit": commit}
    for name, rows in (("train", train), ("val", val), ("test", test), ("external_t2vsafetybench", t2v),
                       ("external_openai", oai)):
        card["splits"][name] = {"n": len(rows), "by_source": counts(rows)}
    card["notes"] = {"multijail_rows_outside_taxonomy": mj_skipped,
                     "test_rows_dropped_as_duplicates_of_training_text": test_before - len(test),
                     "t2vsafetybench_aspects": dict(Counter(r["aspect"] for r in t2v))}
    (args.out / "card.json").write_text(json.dumps(card, indent=2, ensure_ascii=False))
    for name in ("train", "val", "test", "external_t2vsafetybench", "external_openai"):
        s = card["splits"][name]
        print(f"{name:24s} {s['n']:6d}  " + ", ".join(f"{k} {v['n']}" for k, v in s["by_source"].items()))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
