"""The one checker every config table goes through (core.model.fields), and the names it checks.

Each kind of field refuses a value of the wrong type and one out of range with
one line naming the key, what is allowed and what was given; a table refuses
keys it does not have with the list of those it has; choices list their
values. The theme names and binding ids the ``[ui]`` table checks are the ones
the themes and the TUI's key table are built from.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import pytest

from core.model.durations import NS_PER_S
from core.model.fields import (
    Address,
    Choice,
    Duration,
    Flag,
    Invalid,
    Keymap,
    Kind,
    Number,
    Pin,
    Span,
    Table,
    Text,
    UnknownKey,
    Whole,
    Wording,
)
from core.model.ui import UI, BindingId, ThemeName, UiConfig
from tests.conftest import REPO
from themes import CONFIG_NAMES, THEMES, theme_from_config
from tui.keys import ALL_KEYS, APP_KEYS, HELP_KEYS, LOG_KEYS, MAIN_KEYS, SETTINGS_KEYS


class Colour(StrEnum):
    RED = "red"
    DEEP_RED = "deep-red"


class Button(StrEnum):
    GO = "go"
    HALT = "halt"


@dataclass(frozen=True)
class Sample:
    """A record with one attribute for each kind of field."""

    on: bool = True
    count: int = 2
    level: float = 1.0
    pin: int = 20
    address: int = 0x42
    wait_ns: int | None = NS_PER_S
    name: str | None = None
    colour: Colour = Colour.RED
    keys: dict[str, str] = field(default_factory=dict)


FIELDS = (
    Flag("on"),
    Whole("count", range=Span(Kind.WHOLE, 1, 8), what="a number of cells"),
    Number(
        "level",
        range=Span(Kind.NUMBER, 0, 100.0, above_low=True, unit="mA"),
        what="a number of mA",
    ),
    Pin("pin"),
    Address("address", range=Span(Kind.ADDRESS, 0x40, 0x4F), what="an INA219 address"),
    Duration(
        "wait",
        attr="wait_ns",
        said="the wait",
        range=Span(Kind.DURATION, NS_PER_S, 60 * NS_PER_S),
        what="a bulb time",
        example="2s",
        absent=Colour.RED,
    ),
    Text("name", optional=True, what='a name such as "BAT0"', accepts=str.isidentifier),
    Choice("colour", choices=Colour, noun="colour", spelled=str.lower),
    Keymap("keys", ids=Button, example='go = "g"'),
)
WRITTEN = Table("sample", FIELDS)
SPOKEN = Table("sample", FIELDS, wording=Wording.SPOKEN)


def refusal(table: Table, key: str, value: Any) -> str:
    """The one line ``table`` gives for ``key = value``."""
    with pytest.raises(Invalid) as caught:
        table.read({key: value})
    message = str(caught.value)
    assert "\n" not in message, message
    return message


# --- each kind ---------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [1, "yes", None, 0.0])
def test_a_flag_is_true_or_false(value: Any) -> None:
    assert refusal(WRITTEN, "on", value).startswith("sample.on must be true or false, got ")
    assert WRITTEN.read({"on": False}) == {"on": False}


@pytest.mark.parametrize(
    ("value", "shown"), [(0, "0"), (9, "9"), (2.0, "2.0"), (True, "true"), ("2", '"2"')]
)
def test_a_whole_number_says_what_it_is_and_its_range(value: Any, shown: str) -> None:
    assert refusal(WRITTEN, "count", value) == (
        f"sample.count must be a number of cells from 1 to 8, got {shown}"
    )
    assert WRITTEN.read({"count": 8}) == {"count": 8}


def test_a_spoken_table_says_the_form_and_the_range_apart() -> None:
    assert refusal(SPOKEN, "count", "2") == 'sample.count must be a number of cells, got "2"'
    assert refusal(SPOKEN, "count", 9) == "sample.count must be between 1 and 8, got 9"


@pytest.mark.parametrize(
    ("value", "shown"),
    [(0, "0"), (100.5, "100.5"), (math.nan, "nan"), (math.inf, "inf"), (False, "false")],
)
def test_a_number_is_finite_and_in_range(value: Any, shown: str) -> None:
    assert refusal(WRITTEN, "level", value) == (
        f"sample.level must be a number of mA above 0 and up to 100, got {shown}"
    )
    read = WRITTEN.read({"level": 100})
    assert read == {"level": 100.0} and isinstance(read["level"], float)


def test_a_spoken_number_names_its_unit() -> None:
    assert refusal(SPOKEN, "level", 200) == "sample.level must be between 0 and 100 mA, got 200"


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_a_number_that_is_not_finite_is_not_a_number(value: float) -> None:
    # Not "out of range": nan is neither above nor below anything.
    assert refusal(SPOKEN, "level", value) == f"sample.level must be a number of mA, got {value!r}"


@pytest.mark.parametrize(("value", "shown"), [(28, "28"), (-1, "-1"), ("x", '"x"'), (1.0, "1.0")])
def test_a_pin_is_a_gpio_number(value: Any, shown: str) -> None:
    assert refusal(WRITTEN, "pin", value) == f"sample.pin must be a GPIO number 0–27, got {shown}"


def test_an_address_is_shown_in_hex_and_a_quoted_one_is_told_to_lose_its_quotes() -> None:
    assert refusal(WRITTEN, "address", 0x50) == (
        "sample.address must be an INA219 address from 0x40 to 0x4F, got 0x50"
    )
    assert refusal(WRITTEN, "address", "0x42").endswith(
        'got "0x42"; write it without quotes, as address = 0x42'
    )


def test_a_duration_is_read_from_its_spelling_and_checked_in_nanoseconds() -> None:
    assert WRITTEN.read({"wait": "1min"}) == {"wait_ns": 60 * NS_PER_S}
    assert WRITTEN.read({"wait": "red"}) == {"wait_ns": None}
    assert refusal(WRITTEN, "wait", "2min") == (
        "sample.wait must be a bulb time from 1s to 1min, got 2min"
    )
    assert refusal(SPOKEN, "wait", "500ms") == (
        "sample.wait must be between 1s and 1min, got 500ms"
    )
    assert (
        refusal(WRITTEN, "wait", 5)
        == 'sample.wait must be "red" or a bulb time such as "2s"; got 5'
    )
    assert "soon" in refusal(WRITTEN, "wait", "soon")


def test_a_plain_duration_asks_for_quotes_and_explains_a_spelling_it_cannot_read() -> None:
    plain = Table("t", (Duration("d", range=Span(Kind.DURATION, 0, NS_PER_S)),))
    assert refusal(plain, "d", 10) == 't.d must be a duration in quotes, such as "10s"; got 10'
    assert refusal(plain, "d", "10x").startswith("t.d: '10x' is not a duration: use ")


def test_text_is_checked_by_its_rule() -> None:
    assert (
        refusal(WRITTEN, "name", "../x") == 'sample.name must be a name such as "BAT0"; got "../x"'
    )
    assert refusal(WRITTEN, "name", 5) == 'sample.name must be a name such as "BAT0"; got 5'
    assert WRITTEN.read({"name": "BAT1"}) == {"name": "BAT1"}


def test_a_choice_lists_its_values_and_holds_the_enum_member() -> None:
    assert refusal(WRITTEN, "colour", "blue") == (
        'sample.colour must be one of the colours "red", "deep-red", got "blue"'
    )
    assert refusal(WRITTEN, "colour", 3).endswith("got 3")
    read = WRITTEN.read({"colour": "Deep-Red"})["colour"]
    assert read is Colour.DEEP_RED and read == "deep-red"


def test_a_keymap_knows_its_ids_and_wants_a_key_for_each() -> None:
    assert WRITTEN.read({"keys": {"go": "g"}}) == {"keys": {"go": "g"}}
    assert refusal(WRITTEN, "keys", "g") == (
        'sample.keys must be a table of binding id = key, such as go = "g"; got "g"'
    )
    assert refusal(WRITTEN, "keys", {"run": "r"}) == (
        "sample.keys.run is not a binding id; binding ids are go, halt"
    )
    assert refusal(WRITTEN, "keys", {"go": " "}) == (
        'sample.keys.go must be a key such as "s" or "ctrl+s", got " "'
    )
    assert refusal(WRITTEN, "keys", {"odd id": "r"}).startswith('sample.keys."odd id" is not')


# --- the table -----------------------------------------------------------------------------------


def test_an_unknown_key_is_refused_with_the_keys_there_are() -> None:
    with pytest.raises(UnknownKey) as caught:
        WRITTEN.read({"count": 2, "colour ": "red"})
    assert str(caught.value) == (
        'sample."colour " is not a known key; known keys are'
        " on, count, level, pin, address, wait, name, colour, keys"
    )
    assert caught.value.entry == "colour "


def test_unknown_keys_are_refused_before_any_value_is_read() -> None:
    with pytest.raises(UnknownKey):
        WRITTEN.read({"count": "many", "size": 1})


def test_a_table_that_is_not_a_table() -> None:
    with pytest.raises(Invalid) as caught:
        WRITTEN.read(5)
    assert str(caught.value) == (
        "sample must be a table, written [sample] on a line of its own; got 5"
    )


def test_the_spoken_name_is_the_said_one() -> None:
    with pytest.raises(Invalid) as caught:
        SPOKEN.read({"wait": "1h"})
    assert caught.value.spoken == "the wait must be between 1s and 1min, got 1h"
    assert str(caught.value) == "sample.wait must be between 1s and 1min, got 1h"


def test_values_built_in_code_are_checked_as_held() -> None:
    WRITTEN.check(Sample())
    with pytest.raises(
        Invalid, match=r"^sample\.wait must be a bulb time from 1s to 1min, got 0s$"
    ):
        WRITTEN.check(Sample(wait_ns=0))
    with pytest.raises(Invalid, match=r"^sample\.colour must be one of"):
        WRITTEN.check(Sample(colour="Red"))  # type: ignore[arg-type]  # read takes it; held, exactly


def test_write_reads_back_equal_and_leaves_unset_optional_keys_out() -> None:
    sample = Sample(
        on=False, count=3, level=2.5, pin=5, address=0x40, wait_ns=None, keys={"halt": "h"}
    )
    written = WRITTEN.write(sample)
    assert "name" not in written
    assert written["wait"] == "red" and written["colour"] == "red"
    assert type(written["colour"]) is str
    assert Sample(**WRITTEN.read(written)) == sample


# --- the [ui] table's names ----------------------------------------------------------------------


def test_an_unknown_theme_is_refused_with_the_theme_names() -> None:
    assert refusal(UI, "theme", "sepia") == (
        'ui.theme must be one of the theme names "default", "night-vision", "console", got "sepia"'
    )


@pytest.mark.parametrize("spelled", ["console", " Console ", "lapse-console", "LAPSE-CONSOLE"])
def test_a_theme_is_read_as_the_tui_reads_it(spelled: str) -> None:
    assert UI.read({"theme": spelled}) == {"theme": ThemeName.CONSOLE}
    assert theme_from_config(spelled) == THEMES[ThemeName.CONSOLE.full_name].name


def test_an_unknown_binding_id_is_refused_with_every_id() -> None:
    message = refusal(UI, "keys", {"start": "s"})
    assert message == (f"ui.keys.start is not a binding id; binding ids are {', '.join(BindingId)}")


def test_each_theme_name_has_a_theme() -> None:
    assert list(CONFIG_NAMES) == list(ThemeName)
    assert set(CONFIG_NAMES.values()) == set(THEMES)
    assert UiConfig().theme in CONFIG_NAMES


def test_each_binding_id_has_its_keys_in_the_tui() -> None:
    every = (*MAIN_KEYS, *APP_KEYS, *SETTINGS_KEYS, *LOG_KEYS, *HELP_KEYS)
    assert {key.id for key in every} == set(BindingId)
    assert sorted(key.id for key in ALL_KEYS) == sorted(BindingId)


def test_the_readme_names_every_theme_and_binding_id() -> None:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    theme_line = next(line for line in section.splitlines() if line.startswith("theme = "))
    assert theme_line.split("#", 1)[1].strip() == ", ".join(ThemeName)
    named = re.findall(r"`(\w+)`", section.split("The binding ids", 1)[1])
    assert named[: len(BindingId)] == list(BindingId)
