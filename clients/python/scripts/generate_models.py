"""Writes ``figur/models.py`` from the repository's ``openapi.json`` with the pinned
datamodel-code-generator (``--check``: says whether the checked-in file is what it would write).

    pip install 'datamodel-code-generator==0.45.0' && python scripts/generate_models.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
SPEC = HERE.parent.parent / "openapi.json"
OUT = HERE / "figur" / "models.py"
#: 0.45 is the last line that still writes Python 3.9 code; pinned so the output is stable.
GENERATOR = "0.45.0"
FLAGS = [
    "--input-file-type", "openapi",
    "--output-model-type", "pydantic_v2.BaseModel",
    "--target-python-version", "3.9",
    "--disable-timestamp",
    "--use-standard-collections",
    "--field-constraints",
    "--use-annotated",
    "--use-double-quotes",
    "--use-subclass-enum",
    "--use-schema-description",
]


def generate(out: Path) -> None:
    from importlib.metadata import version

    if version("datamodel-code-generator") != GENERATOR:
        sys.exit(f"datamodel-code-generator {GENERATOR} is needed (found {version('datamodel-code-generator')})")
    codegen = Path(sys.executable).parent / "datamodel-codegen"
    # Run beside the spec under its own name: the header records `filename: openapi.json`.
    subprocess.run([str(codegen), "--input", SPEC.name, "--output", str(out), *FLAGS], check=True, cwd=SPEC.parent)


def main() -> None:
    if "--check" in sys.argv:
        with tempfile.TemporaryDirectory() as tmp:
            fresh = Path(tmp) / "models.py"
            generate(fresh)
            if fresh.read_text() != OUT.read_text():
                sys.exit("figur/models.py is not what openapi.json gives: run scripts/generate_models.py")
        print("figur/models.py follows openapi.json")
    else:
        generate(OUT)
        print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
