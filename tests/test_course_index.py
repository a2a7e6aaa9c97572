"""The front page of the rendered course (scripts/course_index.py, run by `make course`)."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("course_index", ROOT / "scripts" / "course_index.py")
course_index = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(course_index)


def test_every_lesson_has_a_title_and_the_taught_ones_their_goals():
    lessons = [course_index.lesson_summary(p) for p in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))]
    assert [lesson["name"][:2] for lesson in lessons] == [f"{k:02d}" for k in range(len(lessons))]
    for lesson in lessons:
        assert lesson["title"].startswith(lesson["name"][:2]), lesson["title"]
        if lesson["name"] != "00_start_here":
            assert len(lesson["goals"]) >= 3, (lesson["name"], lesson["goals"])


def test_index_links_every_lesson_with_its_time_and_pages_link_to_pages(tmp_path):
    (tmp_path / "times.txt").write_text("01_two_pixel_images 9\n10_text_to_image 300\n")
    page = tmp_path / "01_two_pixel_images.html"
    page.write_text('<a href="02_ink_in_water.ipynb">next</a> <a href="https://example.org/x.ipynb">other</a>')
    course_index.main(tmp_path)
    index = (tmp_path / "index.html").read_text()
    for nb in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        assert f'href="{nb.stem}.html"' in index
    assert "(9 s in full mode)" in index and "(300 s in full mode)" in index and "not run yet" in index
    assert page.read_text() == '<a href="02_ink_in_water.html">next</a> <a href="https://example.org/x.ipynb">other</a>'
