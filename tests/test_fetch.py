import hashlib

import pytest

from skillmimic.cli import main
from skillmimic.motion.fetch import manifest


def test_manifest_matches_local_data(ballplay):
    man = manifest("ballplay-m")
    assert len(man["files"]) == 101
    for e in man["files"][:5]:
        assert hashlib.sha256((ballplay / e["path"]).read_bytes()).hexdigest() == e["sha256"]


def test_fetch_from_local_mirror(tmp_path, ballplay, capsys):
    assert main(["data", "fetch", "ballplay-m", "--from", str(ballplay), "--dest", str(tmp_path)]) == 0
    files = sorted((tmp_path / "ballplay-m").rglob("*.pt"))
    assert len(files) == 101 and not list(tmp_path.rglob("*.part"))
    assert "101 fetched" in capsys.readouterr().out
    # second run keeps intact files
    assert main(["data", "fetch", "ballplay-m", "--from", str(ballplay), "--dest", str(tmp_path)]) == 0
    assert "0 fetched, 101 already present" in capsys.readouterr().out
    # a fetched dataset is usable by name under the data root
    assert main(["data", "inspect", str(tmp_path / "ballplay-m" / "layup")]) == 0


@pytest.mark.slow
def test_fetch_by_url_and_checksum_mismatch(tmp_path, ballplay, capsys, monkeypatch):
    # download path, served from a file:// URL (no network needed)
    dest = tmp_path / "root"
    assert main(["data", "fetch", "ballplay-m", "--url", ballplay.as_uri(), "--dest", str(dest)]) == 0
    assert len(list((dest / "ballplay-m").rglob("*.pt"))) == 101
    # a corrupted mirror is caught by the checksum and leaves nothing half-written
    mirror = tmp_path / "mirror"
    (mirror / "back").mkdir(parents=True)
    (mirror / "back" / "041_018pickle_pick2back_7.pt").write_bytes(b"not the clip")
    out = tmp_path / "out"
    assert main(["data", "fetch", "ballplay-m", "--from", str(mirror), "--dest", str(out)]) == 2
    err = capsys.readouterr().err
    assert "checksum mismatch" in err and "041_018pickle_pick2back_7.pt" in err
    assert not list(out.rglob("*.pt")) and not list(out.rglob("*.part"))
