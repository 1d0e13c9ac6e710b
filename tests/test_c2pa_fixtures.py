"""Third-party C2PA material (tests/fixtures/c2pa/SOURCE.md): our outcome beside c2pa-python's."""

from __future__ import annotations

from pathlib import Path

import c2pa

from safety.provenance import read_provenance
from safety.verify import DetectorSignal, WatermarkSignal, decide

FIXTURES = Path(__file__).parent / "fixtures" / "c2pa"


def test_c2pa_rs_dash_init_segment_reads_tampered_as_c2pa_python_reads_invalid() -> None:
    path = FIXTURES / "c2pa-rs-dashinit.mp4"
    with path.open("rb") as fh, c2pa.Reader("video/mp4", fh) as reader:
        assert reader.get_validation_state() == "Invalid"
        failures = [f["code"] for f in reader.get_validation_results()["activeManifest"]["failure"]]
    assert "assertion.bmffHash.mismatch" in failures
    report = read_provenance(path, None)  # not a video to PyAV (no frame rate), yet its manifest is read
    assert report.state == "tampered"
    assert report.reason == "assertion.bmffHash.mismatch"
    assert report.manifest_id is not None
    verdict, _, _ = decide(report, WatermarkSignal(), None, DetectorSignal(status="unavailable"))
    assert verdict == "tampered"
