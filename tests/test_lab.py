"""`make lab` serves JupyterLab with the course kernel and the learner's working copy of the lessons
(checked on a free local port)."""

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def test_make_lab_answers_on_its_port():
    port, token = _free_port(), "course-test"
    flags = f"--no-browser --IdentityProvider.token={token} --ServerApp.port_retries=0"
    proc = subprocess.Popen(["make", "-s", "lab", f"PORT={port}", f"LAB_FLAGS={flags}"], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        status = None
        for _ in range(120):  # up to 60 s for a cold start on a slow machine
            time.sleep(0.5)
            assert proc.poll() is None, f"make lab exited: {proc.stderr.read().decode()[-2000:]}"
            try:
                status = _get(f"http://127.0.0.1:{port}/api/status?token={token}")
                break
            except OSError:
                continue
        assert status is not None, "JupyterLab did not answer within 60 s"
        specs = _get(f"http://127.0.0.1:{port}/api/kernelspecs?token={token}")
        assert specs["default"] == "python3"
        assert Path(specs["kernelspecs"]["python3"]["spec"]["argv"][0]).is_relative_to(ROOT / ".venv")
        # it serves the learner's working copy, lab/, made from notebooks/ on first use
        # (JupyterLab serves the folder of the file it opens: lab/, not notebooks/)
        listing = _get(f"http://127.0.0.1:{port}/api/contents?token={token}")
        served = {item["name"] for item in listing["content"]}
        assert "00_start_here.ipynb" in served and (ROOT / "lab" / "00_start_here.ipynb").exists()
        assert (ROOT / "lab" / ".origin.json").exists()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
