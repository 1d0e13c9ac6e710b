"""Score prompts with the two public baselines: the spaCy prompt-NSFW pipeline and HateSonar.

Runs in its own virtual environment (they are not project dependencies):

    python3 -m venv data/bench-venv
    data/bench-venv/bin/pip install spacy en-prompt-nsfw-pipeline-bow hatesonar
    data/bench-venv/bin/python benchmarks/moderation_baselines.py IN.jsonl OUT.jsonl

IN: one `{"id", "prompt"}` per line. OUT: one `{"id", "spacy_nsfw", "hatesonar", "spacy_ms", "hatesonar_ms"}`
per line: the spaCy pipeline's unsafe probability (1 − `safe`) and HateSonar's hate-speech +
offensive-language probability. `python -m safety.moderation.evaluate --baselines` calls this and
counts a prompt as flagged at 0.5.

HateSonar's ONNX graph lower-cases text with onnxruntime's default locale, `en_US.UTF-8`; where that
locale is not installed onnxruntime refuses the graph, so the graph is given `locale: C.UTF-8`
(ASCII case folding: the same for English text, non-ASCII capitals stay as they are).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def hatesonar_session(tmp: Path):  # type: ignore[no-untyped-def]
    import hatesonar.api
    import onnx
    import onnxruntime as ort

    model = onnx.load(str(hatesonar.api.DEFAULT_MODEL_FILE))
    for node in model.graph.node:
        if node.op_type == "StringNormalizer" and not any(a.name == "locale" for a in node.attribute):
            node.attribute.append(onnx.helper.make_attribute("locale", "C.UTF-8"))
    path = tmp / "hatesonar-c-locale.onnx"
    onnx.save(model, str(path))
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def main() -> None:
    import numpy as np
    import spacy

    src, dst = Path(sys.argv[1]), Path(sys.argv[2])
    rows = [json.loads(line) for line in src.read_text(encoding="utf-8").splitlines() if line.strip()]
    nlp = spacy.load("en_prompt_nsfw_pipeline_bow")
    sonar = hatesonar_session(dst.parent)
    with dst.open("w", encoding="utf-8") as out:
        for r in rows:
            text = r["prompt"]
            t0 = time.perf_counter()
            cats = nlp(text).cats
            t1 = time.perf_counter()
            _, probs = sonar.run(None, {"text": np.array([text], dtype=object)})
            t2 = time.perf_counter()
            p = probs[0]
            out.write(json.dumps({"id": r["id"], "spacy_nsfw": 1.0 - float(cats.get("safe", 0.0)),
                                  "hatesonar": float(p[0]) + float(p[1]),
                                  "spacy_ms": (t1 - t0) * 1000, "hatesonar_ms": (t2 - t1) * 1000}) + "\n")


if __name__ == "__main__":
    main()
