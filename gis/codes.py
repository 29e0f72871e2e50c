"""Code tables: enums whose members carry their Chinese label, stored by English value."""

from __future__ import annotations

import enum
from typing import Self

from sqlalchemy import Enum


class LabelledEnum(enum.StrEnum):
    """A code whose members are declared as `MEMBER = "value", "中文标签"`."""

    label: str

    def __new__(cls, value: str, label: str = "") -> Self:
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label or value
        return member

    @classmethod
    def parse(cls, text: str) -> Self:
        """The member named by its value or its Chinese label; ValueError lists the choices."""
        cleaned = text.strip()
        for member in cls:
            if cleaned.lower() == member.value or cleaned == member.label:
                return member
        choices = ", ".join(f"{m.value} ({m.label})" for m in cls)
        raise ValueError(
            f"'{text}' is not a known {cls.__doc__ or cls.__name__}; use one of {choices}"
        )


def db_enum(cls: type[enum.Enum], name: str) -> Enum:
    """A PostgreSQL enum type storing the members' English values."""
    return Enum(cls, name=name, values_callable=lambda members: [m.value for m in members])
