"""Measure an evidence report's SVG as Debian's chromium lays it out: every label of a box (a
``<g>`` with a ``<rect>``) against the box's right edge, and the labels cut with an ellipsis with
their box's tooltip."""

from __future__ import annotations

import html
import json
import re
import subprocess
from pathlib import Path

from tests.support import require_tool

# Runs in the page: every label of a box against its box's right edge, as chromium lays it out.
_MEASURE = """<script>
const overflow = [], cut = [];
for (const g of document.querySelectorAll("svg g")) {
  const rect = g.querySelector("rect");
  if (!rect) continue;
  const right = rect.x.baseVal.value + rect.width.baseVal.value;
  const tip = (g.querySelector("title") || {}).textContent || "";
  for (const t of g.querySelectorAll("text")) {
    const box = t.getBBox();
    const end = box.x + box.width;
    if (end > right - 4) overflow.push(`${t.textContent} ends at ${end} > ${right}`);
    if (t.textContent.endsWith("\\u2026")) cut.push([t.textContent, tip]);
  }
}
document.body.setAttribute("data-overflow", JSON.stringify(overflow));
document.body.setAttribute("data-cut", JSON.stringify(cut));
</script>"""


def measure_labels(page_html: str, tmp_path: Path) -> tuple[list[str], list[list[str]]]:
    """(labels that overflow their box, [label, tooltip] of each label cut with an ellipsis)."""
    chromium = require_tool("chromium", "chromium")
    page = tmp_path / "measure.html"
    page.write_text(page_html.replace("</body>", _MEASURE + "</body>"), encoding="utf-8")
    dom = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert dom.returncode == 0, dom.stderr[-2000:]
    attrs = dict(re.findall(r'data-(overflow|cut)="([^"]*)"', dom.stdout))
    assert set(attrs) == {"overflow", "cut"}, "the measuring script did not run"
    return json.loads(html.unescape(attrs["overflow"])), json.loads(html.unescape(attrs["cut"]))
