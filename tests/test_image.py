"""What the Dockerfile builds, as far as it can be checked without a Docker engine (the
machines this is built and tested on have none): its COPY lines, taken literally, give
a tree that installs the way the image installs it (`pip install .`, not editable), and
the image's ENTRYPOINT runs from that install (on the bundled demo config: the image's
default config polls public feeds, which tests never do)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

from tests.conftest import PROJECT

DOCKERFILE = (PROJECT / "Dockerfile").read_text()


def instruction(name: str) -> list[str]:
    """The JSON-array form of a Dockerfile instruction (ENTRYPOINT, CMD)."""
    found = re.search(rf"^{name}\s+(\[.*\])\s*$", DOCKERFILE, re.M)
    assert found, f"the Dockerfile has no {name} in exec form"
    return list(json.loads(found.group(1)))


def test_the_images_files_install_and_its_command_runs(tmp_path):
    app = tmp_path / "app"  # the image's WORKDIR
    app.mkdir()
    copies = re.findall(r"^COPY\s+(.+)$", DOCKERFILE, re.M)
    assert copies
    for line in copies:
        *sources, dest = line.split()
        for source in sources:
            src = PROJECT / source
            target = app / dest / source if dest.endswith("/") else app / dest
            if src.is_dir():
                shutil.copytree(src, target, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, target)
    site = tmp_path / "site"
    # the dependencies come from this environment; the package itself only from the copied tree
    built = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                            "--target", str(site), str(app)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr[-2000:]
    script = site / "bin" / instruction("ENTRYPOINT")[0]
    assert script.exists(), "the console script the ENTRYPOINT names was not installed"
    cmd = [arg.replace("/app/", f"{app}/") for arg in instruction("CMD")]
    assert cmd[0] == "--config" and os.path.exists(cmd[1]), cmd  # the config the image runs on is in it
    # run on the bundled demo config (sample feeds on disk), never the default one: its
    # feeds are public addresses, and tests stay on this machine
    command = [*instruction("ENTRYPOINT")[1:], "--config", str(app / "config" / "demo.toml")]
    env = {**os.environ, "PYTHONPATH": str(site), "TIPOFF_DATA_DIR": str(tmp_path / "data"), "NO_COLOR": "1"}
    where = subprocess.run([sys.executable, "-c", "import bot; print(bot.__file__)"], capture_output=True,
                           text=True, env=env, cwd=tmp_path, timeout=60)
    assert where.stdout.strip().startswith(str(site)), where.stdout + where.stderr  # not the checkout
    speaks = subprocess.run([sys.executable, "-c", "from bot import i18n\nfor lang in ('de', 'es', 'fr'):\n"
                             "    with i18n.speaking(lang):\n        print(i18n._('Quiet hours off.'))"],
                            capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert speaks.stdout.split("\n")[:3] == ["Ruhezeiten aus.", "Horas de silencio desactivadas.",
                                             "Heures calmes désactivées."], speaks.stdout + speaks.stderr  # catalogs installed
    ran = subprocess.run([sys.executable, str(script), *command, "--once"], capture_output=True, text=True,
                         env=env, cwd=tmp_path, timeout=120)
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert "duet" in ran.stdout.lower(), ran.stdout[-2000:]  # the bundled samples' watch alerted
    assert (tmp_path / "data").exists()
