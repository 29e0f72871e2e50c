"""The columns of the ledger (台账) file: Chinese headers, aliases, the code labels accepted."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from people.documents import DocumentType
from people.models import ResidenceType, Resident, Sex

# Columns an error file adds after the ledger's: row number, column, reason.
ERROR_COLUMNS: Final = ("错误行号", "错误列", "错误原因")


def _width(name: str) -> int | None:
    return getattr(Resident.__table__.c[name].type, "length", None)


@dataclass(frozen=True)
class LedgerColumn:
    """One column of the ledger file: its Chinese header, accepted aliases and rules."""

    key: str  # the ResidentCreate field it fills
    header: str
    aliases: tuple[str, ...] = ()
    required: bool = False
    note: str = ""
    example: str = ""
    text_format: bool = False  # kept as text in Excel (long digit strings)

    @property
    def max_length(self) -> int | None:
        """Width of the resident column the value is stored in, if it is free text."""
        return _width(self.key) if self.key in Resident.__table__.c else None


DOC_LABELS: Final = "、".join(t.label for t in DocumentType)
RESIDENCE_LABELS: Final = "、".join(t.label for t in ResidenceType)

COLUMNS: Final[tuple[LedgerColumn, ...]] = (
    LedgerColumn("name", "姓名", ("name", "full_name"), True, "与证件上一致", "张三"),
    LedgerColumn("former_name", "曾用名", ("former_name",)),
    LedgerColumn(
        "sex",
        "性别",
        ("sex", "gender"),
        note="男 / 女；居民身份证由证件号码决定，可不填，填写时须与号码一致",
        example="男",
    ),
    LedgerColumn(
        "birth_date",
        "出生日期",
        ("birth_date", "date_of_birth", "birthday", "dob"),
        note="YYYY-MM-DD；居民身份证由证件号码决定，可不填，填写时须与号码一致",
        example="1985-06-15",
    ),
    LedgerColumn(
        "doc_type",
        "证件类型",
        ("doc_type", "document_type", "id_type"),
        note=f"{DOC_LABELS}；不填即居民身份证",
        example="居民身份证",
    ),
    LedgerColumn(
        "doc_number",
        "证件号码",
        ("doc_number", "document_number", "id_number", "id_no", "id_card", "identity_number"),
        True,
        "文本格式（否则 Excel 会把 18 位号码变成 4.2E+17）；居民身份证 18 位，末位可为 X，"
        "15 位旧号自动升级；同一证件再次导入即更新该居民，不会重复",
        "420502198506150011",
        text_format=True,
    ),
    LedgerColumn("ethnicity", "民族", ("ethnicity", "ethnic_group"), example="汉族"),
    LedgerColumn("native_place", "籍贯", ("native_place",), example="湖北宜昌"),
    LedgerColumn("registered_address", "户籍地址", ("registered_address", "hukou_address")),
    LedgerColumn(
        "phone",
        "联系电话",
        ("phone", "mobile", "telephone", "tel", "phone_number"),
        note="手机 11 位，或带区号的固话，如 0717-1234567",
        example="13812345678",
        text_format=True,
    ),
    LedgerColumn("education", "学历", ("education",), example="大学本科"),
    LedgerColumn("occupation", "职业", ("occupation", "job")),
    LedgerColumn("employer", "工作单位", ("employer", "workplace", "work_unit")),
    LedgerColumn("marital_status", "婚姻状况", ("marital_status",), example="已婚"),
    LedgerColumn("political_status", "政治面貌", ("political_status",), example="群众"),
    LedgerColumn(
        "residence_type",
        "人口类型",
        ("residence_type", "population_type"),
        True,
        RESIDENCE_LABELS,
        "户籍人口",
    ),
    LedgerColumn(
        "origin", "流出地", ("origin",), note="流动人口必填：从哪里来", example="湖北省恩施州"
    ),
    LedgerColumn("arrival_date", "来本地日期", ("arrival_date",), note="YYYY-MM-DD"),
    LedgerColumn("arrival_reason", "来本地事由", ("arrival_reason",), example="务工"),
    LedgerColumn("permit_number", "居住证号", ("permit_number",), text_format=True),
    LedgerColumn(
        "permit_expiry", "居住证有效期", ("permit_expiry",), note="YYYY-MM-DD，不早于来本地日期"
    ),
    LedgerColumn(
        "house_code",
        "房屋编码",
        ("house_code", "现住址/房屋编码", "现住址房屋编码", "现住址"),
        note="现住址：楼栋编码-单元-房号，如 420502001001001B0001-1-0301，或地址，如 "
        "前进里社区12栋3单元502（能确定到户才落户，否则退回说明原因）；网格员必填，"
        "且须在自己的网格内；房屋变了即记为搬迁",
        example="420502001001001B0001-1-0301",
        text_format=True,
    ),
    LedgerColumn(
        "moved_in",
        "入住日期",
        ("moved_in", "move_in_date"),
        note="YYYY-MM-DD，不填即导入当天；搬迁时旧住址在这一天结束",
        example="2020-01-01",
    ),
    LedgerColumn("relation_to_head", "与户主关系", ("relation_to_head",), example="户主"),
)
BY_KEY: Final = {c.key: c for c in COLUMNS}
# Columns of ledgers and of our own error files that are read past without a warning.
IGNORED_HEADERS: Final = frozenset({"序号", *ERROR_COLUMNS})

NAME_MAX: Final = _width("name") or 50
TEXT_KEYS: Final = (
    "former_name",
    "ethnicity",
    "native_place",
    "registered_address",
    "education",
    "occupation",
    "employer",
    "marital_status",
    "political_status",
    "origin",
    "arrival_reason",
    "permit_number",
    "relation_to_head",
)


def header_key(text: str) -> str:
    """A header as compared: full-width to ASCII, no '*' or (必填) marks, lower snake case."""
    cleaned = unicodedata.normalize("NFKC", text).strip().strip("*").strip()
    cleaned = cleaned.removesuffix("(必填)").strip().lower()
    return re.sub(r"[\s\-]+", "_", cleaned)


HEADER_LOOKUP: Final[dict[str, LedgerColumn]] = {
    header_key(name): c for c in COLUMNS for name in (c.header, c.key, *c.aliases)
}


def _choices(pairs: dict[str, Any], members: Sequence[Any]) -> dict[str, Any]:
    found = {m.value: m for m in members} | {m.label: m for m in members}
    return found | {header_key(k): v for k, v in pairs.items()}


DOC_TYPES: Final = _choices(
    {"身份证": DocumentType.ID_CARD, "id card": DocumentType.ID_CARD}, list(DocumentType)
)
RESIDENCE_TYPES: Final = _choices(
    {
        "户籍": ResidenceType.REGISTERED,
        "流动": ResidenceType.FLOATING,
        "境外": ResidenceType.OVERSEAS,
        "未落户": ResidenceType.UNREGISTERED,
    },
    list(ResidenceType),
)
SEXES: Final = _choices(
    {"男性": Sex.MALE, "女性": Sex.FEMALE, "m": Sex.MALE, "f": Sex.FEMALE}, list(Sex)
)
