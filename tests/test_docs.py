"""README.md and docs/ describe the software as it is: no issue numbers, commit hashes or "this revision";
the README fits on two screens with a figure near the top; the license and the citation file are there;
every relative link resolves."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]

HISTORY = [
    (re.compile(r"\bissues?\s*#?\d+", re.IGNORECASE), "an issue number"),
    (re.compile(r"(?<![\w/])#\d+\b"), "an issue or pull-request reference"),
    (re.compile(r"\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{7,40}\b"), "a commit hash"),
    (re.compile(r"\b(this|the previous|the last) revision\b|\bbefore this (change|layout)\b", re.IGNORECASE), "the code's history"),
]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_pages_describe_the_software_not_its_history(page):
    found = [(kind, m.group(0)) for pattern, kind in HISTORY for m in pattern.finditer(page.read_text())]
    assert not found, f"{page.relative_to(REPO)}: {found}"


@pytest.mark.parametrize("text", ["fixed in issue 12", "see #14", "at commit 98a5e31", "after this revision"])
def test_the_history_patterns_catch_what_they_are_for(text):
    assert any(pattern.search(text) for pattern, _ in HISTORY), text


@pytest.mark.parametrize("text", ["ε = 1e-3", "plots/figures/sharpness.png", "docs/results.md#at-the-same-training-loss",
                                  "batch 4000", "1,757,834 weights"])
def test_the_history_patterns_leave_ordinary_text_alone(text):
    assert not any(pattern.search(text) for pattern, _ in HISTORY), text


def test_the_readme_fits_on_two_screens_with_a_figure_near_the_top():
    lines = (REPO / "README.md").read_text().splitlines()
    assert len(lines) <= 150, len(lines)
    figures = [line for line in lines[:30] if re.search(r"!\[[^\]]*\]\([^)]+\.png\)", line)]
    assert figures, "no figure in the README's first 30 lines"


def test_license_and_citation_are_there():
    assert (REPO / "LICENSE").read_text().startswith("MIT License")
    citation = yaml.safe_load((REPO / "CITATION.cff").read_text())
    assert citation["cff-version"] and citation["title"] and citation["license"] == "MIT"
    assert "Keskar" in str(citation["references"][0]["authors"]) and citation["references"][0]["year"] == 2017


def test_the_bibtex_cites_what_citation_cff_cites():
    bibtex = re.sub(r"\s+", " ", (REPO / "CITATION.bib").read_text())
    citation = yaml.safe_load((REPO / "CITATION.cff").read_text())
    paper = citation["references"][0]
    assert f"title = {{{paper['title']}}}" in bibtex and f"year = {{{paper['year']}}}" in bibtex
    names = " and ".join(f"{a['family-names']}, {a['given-names']}" for a in paper["authors"])
    assert f"author = {{{names}}}" in bibtex
    assert f"version = {{{citation['version']}}}" in bibtex and citation["title"].split(":")[0] in bibtex


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_resolve(page):
    missing = []
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
        if "://" not in target and not (page.parent / target).exists():
            missing.append(target)
    assert not missing, f"{page.relative_to(REPO)} links to files that do not exist: {missing}"
