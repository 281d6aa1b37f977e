"""stages.outputs: outputs written all-or-nothing, with the umask's permissions, surviving failures and SIGTERM."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]  # the repository root


def test_outputs_get_the_permissions_of_the_umask(tmp_path):
    from stages.outputs import atomic_dir, write_json

    previous = os.umask(0o022)
    try:
        write_json(tmp_path / "out.json", {"a": 1})
        with atomic_dir(tmp_path / "folder") as folder:
            (folder / "f").write_text("x")
    finally:
        os.umask(previous)
    assert (tmp_path / "out.json").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "folder").stat().st_mode & 0o777 == 0o755


def test_a_replaced_folder_survives_until_the_new_one_is_in_place_and_stale_temporaries_go(tmp_path):
    from stages.outputs import atomic_dir

    target = tmp_path / "models"
    target.mkdir()
    (target / "old").write_text("old")
    stale = tmp_path / ".models.abc123"  # what a SIGKILL'd run leaves
    stale.mkdir()
    with pytest.raises(RuntimeError):
        with atomic_dir(target) as folder:
            (folder / "new").write_text("new")
            raise RuntimeError("the stage failed half-way")
    assert (target / "old").read_text() == "old" and not stale.exists()
    with atomic_dir(target) as folder:
        (folder / "new").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == ["new"]
    assert [p.name for p in tmp_path.iterdir()] == ["models"]


def test_sigterm_discards_the_temporary_outputs(tmp_path):
    """A real process, killed with SIGTERM while it writes: the old output stays, no `.out.*` is left."""
    import signal
    import subprocess
    import sys
    import time

    (tmp_path / "out.json").write_text("old")
    script = (
        "import time, typer\n"
        "from pathlib import Path\n"
        "from stages.outputs import stage, write_json\n"
        "app = typer.Typer()\n"
        "@app.command()\n@stage\ndef main():\n"
        f"    write_json(Path({str(tmp_path / 'out.json')!r}), {{'new': 1}})\n"
        "    print('written', flush=True)\n"
        "    time.sleep(60)\n"
        "app()\n"
    )
    process = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "written"
    assert any(p.name.startswith(".out.json.") for p in tmp_path.iterdir())  # the pending temporary
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 128 + signal.SIGTERM
    time.sleep(0.1)
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"] and (tmp_path / "out.json").read_text() == "old"
