"""The table of kinds is the one place a kind is described: each kind has its row, its two
templates and a sample that previews through its intent builder, and no other module lists
kinds."""

from __future__ import annotations

import ast
from datetime import UTC, datetime
from pathlib import Path

import pytest

from notifications.adapters.templates import TEMPLATES, Renderer
from notifications.domain.kinds import KINDS
from notifications.domain.links import Links
from notifications.domain.model import Kind
from notifications.domain.samples import Sample
from notifications.service_layer.previews import preview

PACKAGE = Path(__file__).parents[2] / "src" / "notifications"
LAYOUTS = {"base.txt", "base.html", "_macros.html"}
"""Templates the kinds' templates extend or import."""
LINKS = Links("https://tollgate.example")
RENDERER = Renderer("en_US")


def test_every_kind_has_one_row() -> None:
    assert set(KINDS) == set(Kind)
    assert all(spec.kind is kind for kind, spec in KINDS.items())


@pytest.mark.parametrize("kind", list(Kind))
@pytest.mark.parametrize(
    ("currency", "amount", "shown"), [("jpy", 1500, "¥1,500"), ("usd", 1250, "$12.50")]
)
def test_every_kind_previews_its_sample_in_its_two_templates(
    kind: Kind, currency: str, amount: int, shown: str
) -> None:
    spec = KINDS[kind]
    intent = spec.intent(spec.sample(Sample(amount, currency, datetime.now(UTC))), LINKS)
    assert intent.kind is kind
    text, html = spec.templates
    assert (TEMPLATES / text).is_file() and (TEMPLATES / html).is_file()
    rendered = preview(RENDERER, LINKS, kind, amount=amount, currency=currency, locale="en_US")
    assert rendered.subject and rendered.text.strip() and "<html" in rendered.html
    assert "Sample group" in rendered.subject + rendered.text
    if "amount" in intent.context:
        assert shown in rendered.text and shown in rendered.html


def test_every_template_belongs_to_a_kind() -> None:
    named = {name for spec in KINDS.values() for name in spec.templates}
    assert {path.name for path in TEMPLATES.iterdir()} == named | LAYOUTS


def _kinds_listed(tree: ast.AST) -> list[int]:
    """Lines of collections naming two kinds or more, and of loops over every kind."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict | ast.Set | ast.List | ast.Tuple):
            items = node.keys if isinstance(node, ast.Dict) else node.elts
            named = [
                item
                for item in items
                if isinstance(item, ast.Attribute)
                and isinstance(item.value, ast.Name)
                and item.value.id == "Kind"
            ]
            if len(named) > 1:
                lines.append(node.lineno)
        if isinstance(node, ast.For | ast.comprehension) and ast.unparse(node.iter) == "Kind":
            lines.append(node.iter.lineno)
    return lines


def test_no_module_but_the_table_lists_kinds() -> None:
    listed = {
        str(path.relative_to(PACKAGE)): lines
        for path in sorted(PACKAGE.rglob("*.py"))
        if path != PACKAGE / "domain" / "kinds.py"
        and (lines := _kinds_listed(ast.parse(path.read_text())))
    }
    assert listed == {}


def test_a_membership_ended_by_a_pause_says_so() -> None:
    spec = KINDS[Kind.MEMBERSHIP_ENDED]
    ended = spec.sample(Sample(1500, "usd", datetime.now(UTC)))
    paused = ended.model_copy(update={"reason": "paused"})
    context = {**spec.intent(paused, LINKS).context, "group_name": "Sample group"}
    rendered = RENDERER.render(Kind.MEMBERSHIP_ENDED, context)
    assert rendered.subject == "Your membership of Sample group is paused"
    assert "Its payments are paused" in rendered.text
    assert "Its payments are paused" in rendered.html
    assert "was canceled" not in rendered.text + rendered.html
