"""Pydantic shapes of the resident ledger as services take and return them."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field

from gis.text import InputModel
from people.documents import DocumentType
from people.models import ResidenceType, Sex, SpecialGroupType


class ResidentCreate(InputModel):
    """A resident as a grid worker registers them; sex and birth date come from the ID card."""

    doc_type: DocumentType = DocumentType.ID_CARD
    doc_number: str = Field(min_length=1, max_length=40)
    name: str = Field(min_length=1, max_length=50)
    former_name: str | None = Field(default=None, max_length=50)
    sex: Sex | None = None
    birth_date: date | None = None
    ethnicity: str | None = Field(default=None, max_length=20)
    native_place: str | None = Field(default=None, max_length=100)
    registered_address: str | None = Field(default=None, max_length=300)
    phone: str | None = None
    education: str | None = Field(default=None, max_length=20)
    occupation: str | None = Field(default=None, max_length=50)
    employer: str | None = Field(default=None, max_length=200)
    marital_status: str | None = Field(default=None, max_length=10)
    political_status: str | None = Field(default=None, max_length=20)
    residence_type: ResidenceType = ResidenceType.REGISTERED
    origin: str | None = Field(default=None, max_length=200)
    arrival_date: date | None = None
    arrival_reason: str | None = Field(default=None, max_length=50)
    permit_number: str | None = Field(default=None, max_length=40)
    permit_expiry: date | None = None
    house_code: str | None = Field(default=None, description="building code-unit-room")
    moved_in: date | None = Field(default=None, description="default: today")
    relation_to_head: str | None = Field(default=None, max_length=20)


class ResidentUpdate(InputModel):
    """Fields a grid worker may correct; the document itself is changed by re-registering."""

    name: str | None = Field(default=None, min_length=1, max_length=50)
    former_name: str | None = Field(default=None, max_length=50)
    ethnicity: str | None = Field(default=None, max_length=20)
    native_place: str | None = Field(default=None, max_length=100)
    registered_address: str | None = Field(default=None, max_length=300)
    phone: str | None = None
    education: str | None = Field(default=None, max_length=20)
    occupation: str | None = Field(default=None, max_length=50)
    employer: str | None = Field(default=None, max_length=200)
    marital_status: str | None = Field(default=None, max_length=10)
    political_status: str | None = Field(default=None, max_length=20)
    residence_type: ResidenceType | None = None
    origin: str | None = Field(default=None, max_length=200)
    arrival_date: date | None = None
    arrival_reason: str | None = Field(default=None, max_length=50)
    permit_number: str | None = Field(default=None, max_length=40)
    permit_expiry: date | None = None
    relation_to_head: str | None = Field(default=None, max_length=20)


class ResidentRead(BaseModel):
    """A resident as shown to staff: ID number and phone masked."""

    id: int
    doc_type: DocumentType
    doc_masked: str
    name: str
    sex: Sex
    birth_year: int | None = Field(
        description="year of birth only: with the masked ID number a full date would give it "
        "away (see people/pii.py)"
    )
    age: int | None = Field(description="the age reached in the current year (周岁 this year)")
    residence_type: ResidenceType
    residence_type_label: str
    phone_masked: str | None
    house_code: str | None
    grid_code: str | None
    household_id: int | None
    relation_to_head: str | None
    active: bool
    special_groups: list[SpecialGroupType] = Field(default_factory=list)


class ResidentPage(BaseModel):
    """A page of residents and the total that matched."""

    total: int
    page: int
    page_size: int
    items: list[ResidentRead]


class ResidentPii(BaseModel):
    """Unmasked personal data; every one of these handed out is logged."""

    resident_id: int
    doc_type: DocumentType
    doc_number: str
    birth_date: date | None
    phone: str | None


class ResidenceRead(BaseModel):
    """One stay in a house."""

    resident_id: int
    house_code: str
    grid_code: str | None
    moved_in: date
    moved_out: date | None
    reason: str | None


class HouseholdRead(BaseModel):
    """A household with its members."""

    id: int
    code: str
    house_code: str | None
    grid_code: str | None
    head_id: int | None
    members: list[ResidentRead]
