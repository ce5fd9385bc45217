"""Each config key declared once, and the one checker every table goes through.

A :class:`Table` (``[run]``, ``[hardware]``, …) is a tuple of fields. A field
says the key as the file writes it, the dataclass attribute it fills, its kind
(a duration, a whole number, a choice of an enum, …), its range or choices, how
it is read from TOML (``"10s"`` → nanoseconds) and how it is written back. The
table reads a parsed TOML table into attribute values, checks values built in
code, and writes them back; every refusal is an :class:`Invalid` naming the key
and the reason on one line.

Two wordings, chosen by the table (:class:`Wording`): the run's settings, whose
messages the socket and the command line say too, name a range on its own
("between 10ms and 365d"); the tables only the file holds say what the value
is and its range together ("a number of mA from 10 to 10,000").
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from core.model.durations import format_duration, parse_signed_duration
from core.model.errors import DurationError
from core.model.toml_text import limit_figure, toml_key, toml_value


class Invalid(Exception):
    """A value a field refuses: the reason, and where (the table fills in the key).

    ``str()`` gives ``<table>.<key> <reason>``, or ``<table>.<key>: <reason>``
    when the reason is a sentence of its own; :attr:`spoken` names the key as
    the socket and the command line do (``focus lead``).
    """

    def __init__(
        self, reason: str, *, key: str = "", said: str = "", sentence: bool = False
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.key = key
        """Dotted, as the file spells it: ``ui.keys.start_stop``."""
        self.said = said or key
        self.sentence = sentence

    def within(self, key: str, said: str) -> Invalid:
        """This refusal under ``key``: an entry's own key, if any, follows it after a dot."""
        dotted = f"{key}.{self.key}" if self.key else key
        return Invalid(self.reason, key=dotted, said=said, sentence=self.sentence)

    def _named(self, name: str) -> str:
        return f"{name}: {self.reason}" if self.sentence else f"{name} {self.reason}"

    def __str__(self) -> str:
        return self._named(self.key)

    @property
    def spoken(self) -> str:
        """The message with the key as a sentence says it: ``focus lead must be …``."""
        return self._named(self.said)


class UnknownKey(Invalid):
    """A key the table does not have."""

    def __init__(self, table: str, entry: Any, known: tuple[str, ...]) -> None:
        super().__init__(
            f"is not a known key; known keys are {', '.join(known)}",
            key=f"{table}.{toml_key(entry)}",
        )
        self.entry = entry
        """The key as the file or the socket gave it."""
        self.known = known


class Wording(StrEnum):
    """How a table's messages say a range (see the module's docstring)."""

    SPOKEN = "spoken"
    """``interval must be between 10ms and 365d``: the run's settings."""
    WRITTEN = "written"
    """``battery.pi_model_ma must be a number of mA from 10 to 10,000``: the file's own tables."""


class Kind(StrEnum):
    """How a numeric key's value is written in the file."""

    DURATION = "duration"
    """Integer nanoseconds, written in quotes as people say them: ``"10s"``."""
    WHOLE = "whole"
    """A whole number."""
    NUMBER = "number"
    """Any number, a fraction or a whole one."""
    ADDRESS = "address"
    """A whole number, written in hex as datasheets do: ``0x42``."""


@dataclass(frozen=True)
class Span:
    """The range of one numeric key, spelled as the README and the messages write it."""

    kind: Kind
    low: int | float
    high: int | float
    above_low: bool = False
    """True: ``low`` itself is refused, any number above it allowed."""
    unit: str = ""
    """Said after the range (``ppm``, ``mAh``); empty where the key's name says it."""
    low_note: str = ""
    """Said after the low end in a spoken range: ``0 (until stopped)``."""

    def spell(self, value: int | float) -> str:
        """``value`` as the README and the messages write it: ``365d``, ``100,000,000``."""
        if self.kind is Kind.DURATION:
            return format_duration(int(value))
        if self.kind is Kind.ADDRESS:
            return f"0x{int(value):02X}"
        text = limit_figure(value)
        # A range across zero says the sign of both ends: -500 … +500.
        return f"+{text}" if self.low < 0 < value else text

    def holds(self, value: int | float) -> bool:
        """True when ``value`` is in the range."""
        above = self.low < value if self.above_low else self.low <= value
        return above and value <= self.high

    @property
    def text(self) -> str:
        """The range as the README's comment on the key states it: ``10ms … 365d``."""
        unit = f" {self.unit}" if self.unit else ""
        if self.above_low:
            return f"above {self.spell(self.low)}, up to {self.spell(self.high)}{unit}"
        return f"{self.spell(self.low)} … {self.spell(self.high)}{unit}"

    def said(self, wording: Wording) -> str:
        """The range in a message: ``between 0 (until stopped) and 1,000``, ``from 1s to 5min``.

        A written range leaves the unit to what the message says the value is
        (``a number of mA``).
        """
        low, high = self.spell(self.low), self.spell(self.high)
        if wording is Wording.SPOKEN:
            note = f" {self.low_note}" if self.low_note else ""
            unit = f" {self.unit}" if self.unit else ""
            return f"between {low}{note} and {high}{unit}"
        if self.above_low:
            return f"above {low} and up to {high}"
        return f"from {low} to {high}"


@dataclass(frozen=True)
class Field(ABC):
    """One key of a table: how it is read, checked and written back."""

    key: str
    """As the file writes it."""
    attr: str = field(default="", kw_only=True)
    """The dataclass attribute it fills; the key when empty."""
    said: str = field(default="", kw_only=True)
    """How a sentence names it outside the file (``focus lead``); the key when empty."""
    optional: bool = field(default=False, kw_only=True)
    """None may be held (the default, left out of the file: TOML has no null)."""

    @property
    def name(self) -> str:
        """The dataclass attribute."""
        return self.attr or self.key

    @property
    def spoken_name(self) -> str:
        """The key as a sentence says it."""
        return self.said or self.key

    @property
    def span(self) -> Span | None:
        """The range of a numeric key; None for the others."""
        return None

    def read(self, value: Any, wording: Wording) -> Any:
        """The value the dataclass holds for ``value`` as TOML gives it; raises :class:`Invalid`."""
        self.check(value, wording)
        return value

    @abstractmethod
    def check(self, held: Any, wording: Wording) -> None:
        """Raise :class:`Invalid` unless ``held`` is a value the dataclass may hold."""

    def write(self, held: Any) -> Any:
        """``held`` as a plain TOML value."""
        return held


@dataclass(frozen=True)
class Flag(Field):
    """``true`` or ``false``."""

    def check(self, held: Any, wording: Wording) -> None:
        if not isinstance(held, bool):
            raise Invalid(f"must be true or false, got {toml_value(held)}")


@dataclass(frozen=True, kw_only=True)
class Numeric(Field):
    """A number in a range; the subclasses say which numbers."""

    range: Span
    what: str
    """What the number is: ``a number of Li-ion cells``."""

    @property
    def span(self) -> Span:
        return self.range

    @abstractmethod
    def is_number(self, held: Any) -> bool:
        """True when ``held`` is the right sort of number, in range or not."""

    def check(self, held: Any, wording: Wording) -> None:
        if not self.is_number(held):
            raise self.refusal(held, wording, in_range=False)
        if not self.range.holds(held):
            raise self.refusal(held, wording, in_range=True)

    def refusal(self, value: Any, wording: Wording, *, in_range: bool) -> Invalid:
        """Why ``value`` is refused; ``in_range`` when it is a number, but out of range."""
        if wording is Wording.SPOKEN:
            expected = self.range.said(wording) if in_range else self.what
        else:
            expected = f"{self.what} {self.range.said(wording)}"
        return Invalid(f"must be {expected}, got {self.show(value)}")

    def show(self, value: Any) -> str:
        """``value`` in a message, as the file has it."""
        return toml_value(value)


@dataclass(frozen=True, kw_only=True)
class Whole(Numeric):
    """A whole number (``true`` is not 1, ``2.0`` not 2)."""

    def is_number(self, held: Any) -> bool:
        # bool is a subclass of int: `cells = true` must not read as 1.
        return isinstance(held, int) and not isinstance(held, bool)


@dataclass(frozen=True, kw_only=True)
class Number(Numeric):
    """A finite number, a fraction or a whole one (TOML's integers count), held as a float."""

    def is_number(self, held: Any) -> bool:
        return isinstance(held, int | float) and not isinstance(held, bool) and math.isfinite(held)

    def read(self, value: Any, wording: Wording) -> Any:
        self.check(value, wording)
        return float(value)

    def write(self, held: Any) -> Any:
        return float(held)


@dataclass(frozen=True, kw_only=True)
class Pin(Whole):
    """A BCM GPIO number on the 40-pin header."""

    range: Span = Span(Kind.WHOLE, 0, 27)
    what: str = "a GPIO number"

    def refusal(self, value: Any, wording: Wording, *, in_range: bool) -> Invalid:
        span = self.range
        return Invalid(
            f"must be {self.what} {span.spell(span.low)}–{span.spell(span.high)},"
            f" got {self.show(value)}"
        )


@dataclass(frozen=True, kw_only=True)
class Listing(Field):
    """A TOML list, held as a tuple (a frozen config's value), written back as a list."""

    def read(self, value: Any, wording: Wording) -> Any:
        if isinstance(value, list):
            value = tuple(value)
        self.check(value, wording)
        return value

    def write(self, held: Any) -> Any:
        return list(held)


@dataclass(frozen=True, kw_only=True)
class Pins(Listing):
    """A list of BCM GPIO numbers, as many as one of ``counts``, each different; held as a
    tuple, empty when the key is left out (nothing wired)."""

    counts: tuple[int, ...]
    """The lengths allowed: ``(4, 2)`` for a switch wired by positions or by a 2-bit code."""
    what: str
    """What the list is, for a refusal: ``the VALUE switch's pins``."""

    def check(self, held: Any, wording: Wording) -> None:
        span = Pin("pin").range
        lengths = " or ".join(str(count) for count in self.counts)
        example = ", ".join(str(span.low + 5 + n) for n in range(self.counts[0]))
        if not isinstance(held, tuple) or (held and len(held) not in self.counts):
            raise Invalid(
                f"must be a list of {lengths} GPIO numbers ({self.what}), such as"
                f" [{example}]; got {_listed(held)}"
            )
        for pin in held:
            if isinstance(pin, bool) or not isinstance(pin, int) or not span.holds(pin):
                raise Invalid(
                    f"must hold GPIO numbers {span.spell(span.low)}–{span.spell(span.high)},"
                    f" got {toml_value(pin)}"
                )
        if len(set(held)) != len(held):
            raise Invalid(f"names a GPIO twice: {_listed(held)}")


@dataclass(frozen=True, kw_only=True)
class Argv(Listing):
    """A command as an argument list (no shell): the program first, then its arguments,
    each text without a NUL; held as a tuple, empty when the key is left out."""

    example: str
    """A command as the file writes it: ``["/usr/local/bin/copy-frame", "--fast"]``."""

    def check(self, held: Any, wording: Wording) -> None:
        if not isinstance(held, tuple) or not all(isinstance(word, str) for word in held):
            raise Invalid(
                f"must be a command as a list of words (no shell), such as {self.example};"
                f" got {_listed(held)}"
            )
        if held and not held[0].strip():
            raise Invalid(f"must start with the program to run, such as {self.example}")
        if any("\0" in word for word in held):
            raise Invalid("must not hold a NUL character")


def _listed(value: Any) -> str:
    """A list as the file writes it (``[5, 6, 13]``); anything else as :func:`toml_value` says."""
    if isinstance(value, tuple | list):
        return f"[{', '.join(toml_value(item) for item in value)}]"
    return toml_value(value)


@dataclass(frozen=True, kw_only=True)
class Address(Whole):
    """An I²C address, written and shown in hex as datasheets and ``i2cdetect`` print it."""

    def refusal(self, value: Any, wording: Wording, *, in_range: bool) -> Invalid:
        refused = super().refusal(value, wording, in_range=in_range)
        if isinstance(value, str):
            # TOML reads 0x42 as a number; "0x42" in quotes is text.
            return Invalid(f"{refused.reason}; write it without quotes, as {self.key} = 0x42")
        return refused

    def show(self, value: Any) -> str:
        if self.is_number(value) and value >= 0:
            return f"0x{value:02X}"
        return toml_value(value)


@dataclass(frozen=True, kw_only=True)
class Duration(Field):
    """A duration written as people say it (``"1h30m"``), held as integer nanoseconds."""

    range: Span
    what: str = "a duration"
    example: str = "10s"
    absent: StrEnum | None = None
    """The word that stands for no duration (``pulse``), held as None."""

    @property
    def span(self) -> Span:
        return self.range

    def read(self, value: Any, wording: Wording) -> Any:
        if self.absent is not None and value == self.absent:
            return None
        if not isinstance(value, str):
            raise self._form_refusal(value)
        try:
            held = parse_signed_duration(value)
        except DurationError as error:
            if self.absent is not None:
                raise self._form_refusal(value) from None
            raise Invalid(str(error), sentence=True) from None
        self.check(held, wording)
        return held

    def _form_refusal(self, value: Any) -> Invalid:
        if self.absent is not None:
            expected = f'"{self.absent}" or {self.what} such as "{self.example}"'
        else:
            expected = f'{self.what} in quotes, such as "{self.example}"'
        return Invalid(f"must be {expected}; got {toml_value(value)}")

    def check(self, held: Any, wording: Wording) -> None:
        if held is None and self.absent is not None:
            return
        if isinstance(held, bool) or not isinstance(held, int):
            raise Invalid(f"must be a whole number of nanoseconds, got {toml_value(held)}")
        if not self.range.holds(held):
            said = self.range.said(wording)
            expected = said if wording is Wording.SPOKEN else f"{self.what} {said}"
            raise Invalid(f"must be {expected}, got {format_duration(held)}")

    def write(self, held: Any) -> Any:
        return str(self.absent) if held is None else format_duration(held)


@dataclass(frozen=True, kw_only=True)
class Text(Field):
    """Text that ``accepts`` takes, held as ``tidy`` leaves it."""

    what: str
    accepts: Callable[[str], bool]
    tidy: Callable[[str], str] = str
    """Applied to the text once accepted; ``str`` keeps it as it is."""

    def read(self, value: Any, wording: Wording) -> Any:
        self.check(value, wording)
        return self.tidy(value)

    def check(self, held: Any, wording: Wording) -> None:
        if not isinstance(held, str) or not self.accepts(held):
            raise Invalid(f"must be {self.what}; got {toml_value(held)}")


@dataclass(frozen=True, kw_only=True)
class Phrase(Field):
    """Text in a small language of its own (a window: ``sunset..sunrise``), held as ``tidy``
    writes it; a refusal is the reason ``tidy`` gives, which names what was wrong."""

    tidy: Callable[[str], str]
    """The text as it is held; raises :class:`ValueError` with the reason otherwise."""

    def read(self, value: Any, wording: Wording) -> Any:
        if not isinstance(value, str):
            raise Invalid(f"must be text in quotes; got {toml_value(value)}")
        try:
            return self.tidy(value)
        except ValueError as error:
            raise Invalid(str(error), sentence=True) from None

    def check(self, held: Any, wording: Wording) -> None:
        # Exactly as tidied: what is saved must load back equal.
        if self.read(held, wording) != held:
            raise Invalid(f"must be written as {self.tidy(held)!r}", sentence=True)


@dataclass(frozen=True, kw_only=True)
class Choice(Field):
    """One of an enum's values, held as the enum's member."""

    choices: type[StrEnum]
    noun: str = ""
    """What the choices are, said before them: ``one of the theme names "default", …``."""
    spelled: Callable[[str], str] | None = None
    """Reads what the file says into a value (any case, say); None takes it exactly."""

    def read(self, value: Any, wording: Wording) -> Any:
        if isinstance(value, str):
            wanted = self.spelled(value) if self.spelled else value
            for member in self.choices:
                if member.value == wanted:
                    return member
        raise self._refusal(value)

    def check(self, held: Any, wording: Wording) -> None:
        # Exactly a value: what is saved must load back equal.
        if not isinstance(held, str) or held not in tuple(self.choices):
            raise self._refusal(held)

    def _refusal(self, value: Any) -> Invalid:
        allowed = ", ".join(toml_value(member.value) for member in self.choices)
        noun = f"the {self.noun}s " if self.noun else ""
        return Invalid(f"must be one of {noun}{allowed}, got {toml_value(value)}")

    def write(self, held: Any) -> Any:
        return str(held)


@dataclass(frozen=True, kw_only=True)
class Keymap(Field):
    """A table of id = key text, each id one of an enum's values (``[ui.keys]``)."""

    ids: type[StrEnum]
    example: str
    """An entry as the file writes it: ``start_stop = "s"``."""

    def read(self, value: Any, wording: Wording) -> Any:
        if not isinstance(value, Mapping):
            raise Invalid(
                f"must be a table of binding id = key, such as {self.example}; got"
                f" {toml_value(value)}"
            )
        known = {member.value: member for member in self.ids}
        entries: dict[str, str] = {}
        for entry, keys in value.items():
            if entry not in known:
                raise Invalid(
                    f"is not a binding id; binding ids are {', '.join(known)}",
                    key=toml_key(entry),
                )
            if not isinstance(keys, str) or not keys.strip():
                raise Invalid(
                    f'must be a key such as "s" or "ctrl+s", got {toml_value(keys)}',
                    key=toml_key(entry),
                )
            entries[known[entry]] = keys
        return entries

    def check(self, held: Any, wording: Wording) -> None:
        self.read(held, wording)

    def write(self, held: Any) -> Any:
        return {str(entry): keys for entry, keys in held.items()}


@dataclass(frozen=True)
class Table:
    """A config table's keys, each declared once, and the checks they all go through."""

    name: str
    """As the file's header writes it: ``battery``."""
    fields: tuple[Field, ...]
    wording: Wording = Wording.WRITTEN

    @property
    def keys(self) -> tuple[str, ...]:
        """Every key, in the order the file and the README list them."""
        return tuple(entry.key for entry in self.fields)

    def read(self, data: Any) -> dict[str, Any]:
        """Attribute → value for each key ``data`` gives; the others keep their defaults.

        Unknown keys are refused first, then each value in the file's order.
        """
        if not isinstance(data, Mapping):
            raise Invalid(
                f"must be a table, written [{self.name}] on a line of its own;"
                f" got {toml_value(data)}",
                key=self.name,
            )
        by_key = {entry.key: entry for entry in self.fields}
        for key in data:
            if key not in by_key:
                raise UnknownKey(self.name, key, self.keys)
        values: dict[str, Any] = {}
        for key, value in data.items():
            entry = by_key[key]
            try:
                values[entry.name] = entry.read(value, self.wording)
            except Invalid as invalid:
                raise invalid.within(f"{self.name}.{entry.key}", entry.spoken_name) from None
        return values

    def check(self, record: Any) -> None:
        """Raise :class:`Invalid` for the first attribute of ``record`` a field refuses."""
        for entry in self.fields:
            held = getattr(record, entry.name)
            if held is None and entry.optional:
                continue
            try:
                entry.check(held, self.wording)
            except Invalid as invalid:
                raise invalid.within(f"{self.name}.{entry.key}", entry.spoken_name) from None

    def write(self, record: Any) -> dict[str, Any]:
        """``record`` as plain TOML values; a None (an unset optional key) is left out."""
        data: dict[str, Any] = {}
        for entry in self.fields:
            held = getattr(record, entry.name)
            if not (held is None and entry.optional):
                data[entry.key] = entry.write(held)
        return data
