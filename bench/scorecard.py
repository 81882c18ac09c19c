"""Measure the scorecard download: the PDF of every unit (60 departments and the organisation).

Run ``.venv/bin/python bench/scorecard.py`` (``--responses N``, default 10,000). It loads
synthetic responses over 60 departments in 2 sites into a SQLite file (not timed),
computes the snapshot once (as the portal does when a wave closes), then times, median of
5 runs:

- **pages**: the scorecard service — results from the snapshot, anonymity, lights,
  barrier, recommendations and plans for 61 pages;
- **PDF**: writing those pages to a PDF with ``portal.render.pdf`` (pure Python);
- **download**: both together, which is what ``…/scorecard.pdf`` does per request.

Target on this machine (issue 6): the whole download for 60 departments ≤ 3 s. For
reference, the issue reports LimeSurvey's statistics PDF with charts taking 3.4–5 s here
for one survey.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from results import SLUG, WAVE, setup, timed  # noqa: E402

from portal.render.pdf import scorecard_pdf  # noqa: E402
from portal.services import results, scorecard  # noqa: E402
from portal.storage.sqlite import SqliteStore  # noqa: E402

TARGET_SECONDS = 3.0


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--responses", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        store = SqliteStore(Path(folder) / "bench.sqlite3")
        store.create_schema()
        setup(store, args.responses)
        results.refresh_snapshot(store, SLUG, WAVE, now=datetime.now(UTC))

        def pages() -> scorecard.Scorecard:
            return scorecard.scorecard(store, SLUG, WAVE)

        page_time, card = timed(pages, 5)
        pdf_time, pdf = timed(lambda: scorecard_pdf(card), 5)
        total, _ = timed(lambda: scorecard_pdf(pages()), 5)
    print(f"Scorecard for {len(card.pages)} pages ({args.responses:,} responses, SQLite)")
    print(f"  pages (service)  {page_time:6.3f} s")
    print(f"  PDF (render)     {pdf_time:6.3f} s   {len(pdf) / 1024:,.0f} KiB")
    verdict = "within" if total <= TARGET_SECONDS else "OVER"
    print(f"  download         {total:6.3f} s   {verdict} the {TARGET_SECONDS:.0f} s target")
    print("  reference: LimeSurvey statistics PDF with charts 3.4–5 s for one survey")


if __name__ == "__main__":
    main()
