"""Reflection over the event records: their fields with the annotation text as written.

The decoders, the encoder and the test strategies walk records generically by annotation text
("Decimal | None", "tuple[Trade, ...]"), so the text is kept here when the annotations are
resolved. Functions take the declaring namespace as an argument, so this module never imports
the package that declares the records.
"""

from __future__ import annotations

import functools
import operator
from decimal import Decimal
from types import UnionType
from typing import TYPE_CHECKING, Annotated, Final, NamedTuple, TypeAlias, get_args, get_type_hints

import msgspec

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping


class FieldSpec(NamedTuple):
    """One field of an event record, for code that walks records generically."""

    name: str
    annotation: str  # as written in the record's module: "Decimal | None", "tuple[Trade, ...]"
    default: object  # REQUIRED when the field has no default


REQUIRED: Final = msgspec.NODEFAULT
# Gate's integers (ids, times, update ids, integer sizes) are int64 on the wire.
Int64: TypeAlias = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]
Size: TypeAlias = int | Decimal
"""A contract size: `int` by default, `Decimal` with `X-Gate-Size-Decimal` (spec section 10)."""
_ANNOTATION_TEXT: Final[dict[type, dict[str, str]]] = {}


def record_fields(cls: type[msgspec.Struct]) -> tuple[FieldSpec, ...]:
    """The fields of an event record class, in order, with their annotation text."""
    annotations: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        annotations.update(_ANNOTATION_TEXT.get(klass, {}))
    names = cls.__struct_fields__
    defaults = (REQUIRED,) * (len(names) - len(cls.__struct_defaults__)) + cls.__struct_defaults__
    return tuple(
        FieldSpec(name, annotations[name], default)
        for name, default in zip(names, defaults, strict=True)
    )


def find_records(
    namespace: Mapping[str, object], *, exclude: Iterable[type]
) -> dict[str, type[msgspec.Struct]]:
    """The public Struct classes of `namespace` by name, but those in `exclude`."""
    excluded = set(exclude)
    return {
        name: value
        for name, value in namespace.items()
        if isinstance(value, type)
        and issubclass(value, msgspec.Struct)
        and value not in excluded
        and not name.startswith("_")
    }


def resolve_annotations(classes: Iterable[type], namespace: dict[str, object]) -> None:
    """Replace each class's string annotations by the types they name in `namespace`, once.

    msgspec, hypothesis and inspect.signature evaluate a Struct's string annotations in the
    module named by its `__module__`. gatetrio/__init__ renames that to "gatetrio", where
    `Decimal`, `Size`, ... are not defined; so resolve them here, keeping the text.
    """
    for cls in classes:
        own = dict(vars(cls).get("__annotations__", {}))
        _ANNOTATION_TEXT[cls] = own
        hints = get_type_hints(cls, namespace, include_extras=True)
        cls.__annotations__ = {name: _int64(hints[name]) for name in own}


def _int64(hint: object) -> object:
    # msgspec takes a 401-digit JSON integer as a Python int; bounding every int field here
    # makes it refuse one in C (the decoder then asks the reference, which raises
    # ProtocolError), at no cost a Python-side check would add on the hot path.
    if hint is int:
        return Int64
    args = get_args(hint)
    if isinstance(hint, UnionType) and int in args:
        return functools.reduce(operator.or_, [Int64 if arg is int else arg for arg in args])
    return hint
