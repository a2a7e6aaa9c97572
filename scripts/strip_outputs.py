"""A git filter that stores notebooks without outputs: notebook JSON in on stdin, the same notebook with
every code cell's outputs and execution count cleared out on stdout, written the way the course stores
notebooks (one-space indent, UTF-8, a final newline). `make hooks` sets it up for notebooks/*.ipynb:

    git config filter.strip-outputs.clean ".venv/bin/python scripts/strip_outputs.py"

A notebook that is already clean comes out byte for byte as it went in (tests/test_environment.py).
"""

import json
import sys


def strip(text: str) -> str:
    nb = json.loads(text)
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"], cell["execution_count"] = [], None
        cell.get("metadata", {}).pop("execution", None)  # timing that JupyterLab records
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    sys.stdout.write(strip(sys.stdin.read()))
