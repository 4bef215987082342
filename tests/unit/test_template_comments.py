"""Template comments ``{{! … }}``: removed when parsed, never rendered, bounded work.

The built-in files carry one on their first line (the generator's marker); operators'
override files may use them too.
"""

from __future__ import annotations

import time
from importlib import resources
from pathlib import Path

import pytest

from authmail_relay.exceptions import ConfigurationError
from authmail_relay.mail.branding import Branding
from authmail_relay.mail.locales import LOCALES
from authmail_relay.mail.overrides import check_overrides, load_templates
from authmail_relay.mail.previews import preview, template_kinds
from authmail_relay.mail.rendering import VARIABLES, Template, load_builtin
from authmail_relay.mail.wrapper import wrap_html
from authmail_relay.vocabulary import Kind
from tests.support.template_generator import load_generator

pytestmark = pytest.mark.library


@pytest.mark.parametrize(
    ("source", "rendered"),
    [
        # Inline: the comment goes, the text on both sides stays as written.
        ("Hi {{! the greeting }}{{ name }}!", "Hi Ada!"),
        ("Hi {{! x }} {{ name }}", "Hi  Ada"),
        ("Hi {{! x }}\nthere", "Hi \nthere"),
        ("a{{!x}}{{!y}}\nb", "a\nb"),
        # Alone on its line (blanks around it allowed): the whole line goes.
        ("{{! note }}\n{{ name }}\n", "Ada\n"),
        ("a\n  \t{{! note }} \t\nb", "a\nb"),
        ("a\r\n{{! note }}\r\nb", "a\r\nb"),
        ("a\n{{! one }}\n{{! two }}\nb", "a\nb"),
        ("a\n{{! last }}", "a\n"),
        ("{{!}}", ""),
        # A comment may span lines, and hold braces and markup that are not {{.
        ("a {{! over\ntwo lines }} b", "a  b"),
        ("{{! <script>}{ </script> }}\n{{ name }}", "Ada"),
        # It ends at the first }}: what follows is text.
        ("{{! x }}}", "}"),
    ],
)
def test_comments_are_removed_and_never_rendered(source: str, rendered: str) -> None:
    template = Template.parse(source, name="t.txt")
    assert template.render({"name": "Ada"}) == rendered
    assert all("{{!" not in piece for piece in template.pieces)


def test_a_comment_is_not_a_placeholder() -> None:
    """A name in a comment is neither required at render time nor checked against the
    kind's variables (``link`` is not an OTP variable)."""
    template = Template.parse("{{! link, not code }}{{ code }}", name="otp.txt")
    assert template.placeholders == ("code",)
    template.check_variables(VARIABLES[Kind.OTP])


def test_html_templates_drop_comments_too() -> None:
    template = Template.parse("{{! author's note }}\n<p>{{ name }}</p>", name="t.html", html=True)
    assert template.render({"name": "<Ada>"}) == "<p>&lt;Ada&gt;</p>"


@pytest.mark.parametrize(
    ("source", "line", "what"),
    [
        ("{{! never closed", 1, "comment never closed"),
        ("ok\n\nHello {{! oops }", 3, "comment never closed"),
        ("{{ name }}\n{{!", 2, "comment never closed"),
        ("{{! commented out: {{ link }} }}", 1, "cannot contain {{"),
        ("{{! a\nb {{ }}", 2, "cannot contain {{"),
    ],
)
def test_bad_comments_name_template_and_line(source: str, line: int, what: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        Template.parse(source, name="welcome.html")
    assert f"welcome.html, line {line}: " in str(info.value)
    assert what in str(info.value)


def test_an_unclosed_comment_in_an_override_is_reported(tmp_path: Path) -> None:
    folder = tmp_path / "de"
    folder.mkdir()
    (folder / "otp.txt").write_text("{{ code }}\n{{! to do: wording\n", encoding="utf-8")
    (folder / "otp.html").write_text("{{! fine }}\n<p>{{ code }}</p>", encoding="utf-8")
    with pytest.raises(ConfigurationError) as info:
        check_overrides(tmp_path)
    assert "1 problem(s)" in str(info.value)
    assert "template de/otp.txt, line 2: comment never closed" in str(info.value)
    with pytest.raises(ConfigurationError, match="comment never closed"):
        load_templates(Kind.OTP, "de", overrides=tmp_path)


def test_a_comment_line_above_a_subject_leaves_one_line(tmp_path: Path) -> None:
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "otp.subject.txt").write_text(
        "{{! shown in the inbox list }}\r\nCode for {{ product_name }}\r\n", encoding="utf-8"
    )
    check_overrides(tmp_path)
    templates = load_templates(Kind.OTP, "en", overrides=tmp_path)
    assert templates.subject.pieces == ("Code for ", "product_name", "")
    subject = load_builtin(Kind.OTP).with_overrides(subject="{{! note }}\nHi {{ product_name }}")
    assert subject.subject.pieces == ("Hi ", "product_name", "")
    # An inline comment does not join lines: a subject that is two lines stays refused.
    with pytest.raises(ConfigurationError, match="single line"):
        load_builtin(Kind.OTP).with_overrides(subject="Hi {{! note }}\nthere")


def test_parsing_is_linear_in_the_number_of_comments() -> None:
    """Each shape costs about what the same length of placeholders costs: a scan that
    went back over the line or the source for every comment would be quadratic here."""
    size = 1 << 20

    # CPU time of this thread, not wall time: what the parser costs, whatever else the
    # machine runs meanwhile (parallel test workers).
    def seconds(source: str) -> float:
        started = time.thread_time()
        Template.parse(source, name="big")
        return time.thread_time() - started

    baseline = seconds("{{ a }} " * (size // 8))
    shapes = {
        "inline comments": "{{!x}}" * (size // 6),
        "comments after blanks": " \t{{!x}}" * (size // 8),
        "comment lines": "{{!x}}\n" * (size // 7),
        "one long line of blanks": "{{!x}}" + " " * size + "y",
        "long comments": ("{{!" + "x" * 1000 + "}}") * (size // 1005),
    }
    for label, source in shapes.items():
        assert seconds(source) < 5 * baseline + 0.5, label
    started = time.thread_time()
    with pytest.raises(ConfigurationError):
        Template.parse("{{! " + "{" * size, name="big")
    with pytest.raises(ConfigurationError):
        Template.parse("{{!" + "x" * size, name="big")
    assert time.thread_time() - started < 5 * baseline + 0.5


def test_every_shipped_file_starts_with_the_generator_marker() -> None:
    """Every built-in file is generated (none is written by hand), and each says so on
    its first line, in a comment that the parser removes with its line."""
    marker: str = load_generator().MARKER
    assert marker.startswith("{{! generated by scripts/build_templates.py from ")
    assert "scripts/template_wording.py" in marker
    assert Template.parse(f"{marker}\nx", name="marker").pieces == ("x",)
    folder = resources.files("authmail_relay.mail").joinpath("templates")
    files = [item for locale in folder.iterdir() if locale.is_dir() for item in locale.iterdir()]
    assert len(files) == 10 * len(LOCALES)
    for item in files:
        assert item.read_text(encoding="utf-8").split("\n", 1)[0] == marker, item.name


@pytest.mark.parametrize("locale", LOCALES)
def test_the_marker_never_reaches_a_mail(locale: str) -> None:
    for kind in template_kinds():
        mail = preview(kind, locale, branding=Branding(support_address="help@acme.example"))
        for part in (mail.subject, mail.html or "", mail.text or ""):
            assert "generated by" not in part
            assert "{{" not in part
        assert "\n" not in mail.subject
        assert mail.html is not None
        assert mail.html.startswith("<!DOCTYPE html>\n")
    wrapped = wrap_html("<p>x</p>", branding=Branding(), locale=locale, subject="S")
    assert wrapped.startswith("<!DOCTYPE html>\n")
    assert "generated by" not in wrapped
