"""Jupyter notebooks to blocks: Markdown cells as Markdown, code cells with short text outputs."""

from __future__ import annotations

import json
from typing import Any

from twinmcp.ingest.documents import DocumentError
from twinmcp.ingest.parsing import ParsedDocument
from twinmcp.ingest.parsing.includes import IncludeResolver, normalise_language
from twinmcp.ingest.parsing.markdown import parse_markdown

MAX_OUTPUT_LINES = 12


def _source(cell: dict[str, Any]) -> str:
    source = cell.get("source", "")
    if isinstance(source, list):
        return "".join(part for part in source if isinstance(part, str))
    return source if isinstance(source, str) else ""


def _text_output(cell: dict[str, Any]) -> str:
    """Short printed/returned text, so a reader sees what the code produces."""
    parts: list[str] = []
    for output in cell.get("outputs", []) or []:
        if not isinstance(output, dict):
            continue
        if output.get("output_type") == "stream":
            text = output.get("text", "")
        else:
            data = output.get("data")
            text = data.get("text/plain", "") if isinstance(data, dict) else ""
        if isinstance(text, list):
            text = "".join(part for part in text if isinstance(part, str))
        if isinstance(text, str) and text.strip():
            parts.append(text.rstrip())
    lines = "\n".join(parts).split("\n")
    if not parts or len(lines) > MAX_OUTPUT_LINES:
        return ""
    return "\n".join(lines)


def parse_notebook(text: str, path: str, resolver: IncludeResolver | None = None) -> ParsedDocument:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise DocumentError(f"{path} is not a valid notebook (JSON error: {error.msg})") from error
    except RecursionError as error:
        raise DocumentError(f"{path} is not a valid notebook (JSON nested too deeply)") from error
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise DocumentError(f"{path} is not a Jupyter notebook: no 'cells' list")
    metadata = data.get("metadata")
    language = "python"
    if isinstance(metadata, dict):
        info = metadata.get("language_info") or metadata.get("kernelspec") or {}
        if isinstance(info, dict) and isinstance(info.get("language") or info.get("name"), str):
            language = normalise_language(str(info.get("language") or info.get("name"))) or language
    chunks: list[str] = []
    for cell in data["cells"]:
        if not isinstance(cell, dict):
            continue
        source = _source(cell).strip("\n")
        if not source.strip():
            continue
        kind = cell.get("cell_type")
        if kind == "markdown":
            chunks.append(source)
        elif kind == "code":
            if source.lstrip().startswith(("%%", "!")) and "\n" not in source.strip():
                # A lone magic or shell line (pip install...) is still worth showing as bash.
                chunks.append(f"```bash\n{source.lstrip('%!')}\n```")
                continue
            output = _text_output(cell)
            if output:
                commented = "\n".join(f"# {line}" if line else "#" for line in output.split("\n"))
                source = f"{source}\n# Output:\n{commented}"
            fence = "````" if "```" in source else "```"
            chunks.append(f"{fence}{language}\n{source}\n{fence}")
    return parse_markdown("\n\n".join(chunks), path, resolver, is_mdx=False)
