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


def test_soft_binding_list_entry_in_the_docs_validates_against_the_lists_schema() -> None:
    import json
    import re

    import jsonschema_rs

    docs = (Path(__file__).parents[1] / "docs" / "provenance.md").read_text()
    block = re.search(r"### Soft-binding algorithm list entry.*?```json\n(.*?)```", docs, re.S)
    assert block is not None
    entry = json.loads(block.group(1))
    schema = json.loads((FIXTURES / "softbinding-algorithm-list.schema.json").read_text())
    validator = jsonschema_rs.validator_for(schema)
    assert validator.is_valid([entry]), [str(e) for e in validator.iter_errors([entry])]
    assert not validator.is_valid([{**entry, "alg": "sealframe"}])  # not a reverse-domain name
    from safety.settings import Settings

    assert entry["alg"] == Settings().soft_binding_alg


def test_soft_binding_alg_is_configurable_and_checked(tmp_path: Path, mp4: Path) -> None:
    import pydantic
    import pytest

    from safety.provenance import ManifestSpec, init_dev_keys, load_credentials, sign_file
    from safety.settings import Settings

    with pytest.raises(pydantic.ValidationError):
        Settings(soft_binding_alg="not a name")
    keys = init_dev_keys(tmp_path / "keys")
    spec = ManifestSpec(title="t", watermark_payload=b"\x01" * 8,
                        soft_binding_alg=Settings(soft_binding_alg="com.example.wm.2").soft_binding_alg)
    signed = sign_file(mp4, tmp_path / "s.mp4", spec, load_credentials(keys.signer_key, keys.signer_chain))
    report = read_provenance(signed.path, keys.root_cert.read_bytes())
    assert [b.alg for b in report.soft_bindings] == ["com.example.wm.2"]
