"""Residents, households, special groups, organisations and staff for the demo city.

`generate_people` is pure: from the demo city as stored (grids, buildings, houses, read back
ordered by their codes) and a seed it builds every person and organisation as numpy columns.
`seed_demo_people` reads that frame, generates, and writes everything with COPY inside the
caller's transaction. Same city + same seed → the same people, ID numbers and names.

Birth dates (and so ID numbers) count back from the fixed `REFERENCE_DAY`, so they do not
change from one day to the next; arrivals, moves and visits count back from `today`, so a
freshly seeded demo always has about 10 % of its visits overdue.
"""

from __future__ import annotations

import csv
import io
import json
import secrets
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from psycopg2 import sql
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.clock import local_today
from gis.db import STORAGE_SRID
from grid.demo import DEFAULT_SEED, SCALES
from people.credit_code import make_credit_code
from people.documents import DocumentType
from people.exceptions import PeopleError
from people.models import OrganisationType, ResidenceType, Sex, SpecialGroupType, StaffRole
from people.pii import get_cipher, mask_id_number, mask_phone
from people.service import DOC_CONTEXT, PHONE_CONTEXT, document_hash
from people.staff import create_staff, hash_password

__all__ = [
    "DEMO_ACCOUNTS",
    "DEMO_PASSWORD",
    "ORGANISATION_PHONE_CONTEXT",
    "PEOPLE_SCALES",
    "REFERENCE_DAY",
    "CityFrame",
    "DemoAccount",
    "DemoPeople",
    "DemoPeopleError",
    "PeopleScale",
    "PeopleSeedSummary",
    "generate_people",
    "load_city_frame",
    "seed_demo_people",
]

Array = npt.NDArray[Any]
IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
Progress = Callable[[str, int, int], None]

DEMO_PASSWORD: Final = "gridgov-demo"
ORGANISATION_PHONE_CONTEXT: Final = "organisation.phone"
# Birth dates count back from this day, so ID numbers stay the same whenever one seeds.
REFERENCE_DAY: Final = date(2026, 1, 1)
XILING_AREA: Final = "420502000000"
_BATCH: Final = 20_000
_DAYS_PER_YEAR: Final = 365.2425


class DemoPeopleError(PeopleError):
    """Demo residents could not be seeded; the message says why and what to do."""


@dataclass(frozen=True)
class PeopleScale:
    """How many residents and organisations a demo scale gets."""

    residents: int
    organisations: int
    # Bulk grid-worker accounts get the demo password at demo scale; at city scale they get
    # one hash of a random password nobody knows (an admin sets real ones later).
    bulk_workers_can_log_in: bool


PEOPLE_SCALES: Final[dict[str, PeopleScale]] = {
    "demo": PeopleScale(residents=50_000, organisations=3_000, bulk_workers_can_log_in=True),
    "city": PeopleScale(residents=2_000_000, organisations=100_000, bulk_workers_can_log_in=False),
}


@dataclass(frozen=True)
class DemoAccount:
    """A named demo login (password `DEMO_PASSWORD`) and what it may see."""

    username: str
    role: StaffRole
    full_name: str
    scope: str  # "area 420502000000", "first grid", "grid in another street", "all"


DEMO_ACCOUNTS: Final[list[DemoAccount]] = [
    DemoAccount("admin", StaffRole.ADMIN, "系统管理员", "all"),
    DemoAccount("leader", StaffRole.LEADER, "西陵区领导", f"area {XILING_AREA}"),
    DemoAccount("command", StaffRole.COMMAND, "西陵区指挥中心", f"area {XILING_AREA}"),
    DemoAccount("worker1", StaffRole.GRID_WORKER, "网格员一", "the first grid by code"),
    DemoAccount("worker2", StaffRole.GRID_WORKER, "网格员二", "a grid in another street"),
    DemoAccount("inspector1", StaffRole.INSPECTOR, "督查员一", f"area {XILING_AREA}"),
    # Dispatchers (police1, fire1, civil1, urban1) belong to department units, which the
    # events package seeds; they are added there, not here.
]


@dataclass(frozen=True)
class PeopleSeedSummary:
    """What `seed_demo_people` wrote, or found already there."""

    scale: str
    seed: int
    residents: int
    floating: int
    households: int
    residences: int
    special_groups: int
    organisations: int
    staff: int
    already_present: bool


# --------------------------------------------------------------------------- vocabularies


def _words(text_: str) -> tuple[str, ...]:
    return tuple(text_.split())


# Surnames with their share (‰) in the 2020 household-registration count, with the names
# common in western Hubei (覃 向 谭 田 望 of the Tujia) weighted up for Yichang.
_SURNAMES: Final = _words(
    "王 71 李 70 张 67 刘 51 陈 46 杨 32 黄 24 赵 22 吴 20 周 19 徐 16 孙 15 马 14 朱 14 "
    "胡 16 郭 11 何 11 林 8 高 10 罗 10 郑 9 梁 9 谢 8 宋 8 唐 8 许 7 韩 7 冯 7 邓 9 曹 7 "
    "彭 8 曾 6 肖 7 田 10 董 6 袁 6 潘 5 于 5 蒋 5 蔡 5 余 7 杜 5 叶 5 程 5 苏 4 魏 4 吕 4 "
    "丁 4 任 4 沈 4 姚 4 卢 4 姜 4 崔 4 钟 4 谭 9 陆 3 汪 4 范 3 金 3 石 3 廖 3 贾 3 夏 3 "
    "韦 3 付 3 方 3 白 2 邹 3 孟 2 熊 5 秦 2 邱 2 江 3 尹 2 薛 2 闫 2 段 2 雷 3 侯 2 龙 2 "
    "史 2 陶 2 黎 2 贺 2 顾 2 毛 2 郝 1 龚 2 邵 1 万 2 钱 1 严 1 覃 6 武 1 戴 1 莫 1 孔 1 "
    "向 6 汤 1 望 2 欧阳 1 司马 0.2 诸葛 0.1"
)
_SURNAME: Final = np.array(_SURNAMES[0::2])
_SURNAME_P: Final = np.array([float(w) for w in _SURNAMES[1::2]]) / sum(
    float(w) for w in _SURNAMES[1::2]
)

# Given-name characters by sex and by the era a person was born in (≤1965, 1966–94, 1995–).
_GIVEN: Final = {
    (True, 0): _words(
        "建 国 华 军 明 伟 强 平 刚 勇 斌 林 峰 志 文 海 东 波 辉 涛 兵 新 春 德 福 生 祥 忠 安 "
        "民 荣 金 山 成 永 清 庆 洪 才"
    ),
    (True, 1): _words(
        "伟 磊 勇 军 杰 涛 斌 超 明 刚 鹏 辉 波 亮 俊 峰 强 飞 健 凯 龙 宁 鑫 浩 林 敏 宇 帅 兵 "
        "旭 晖 锋 剑 毅 江 坤 晨 阳"
    ),
    (True, 2): _words(
        "浩 宇 轩 睿 泽 子 梓 一 晨 昊 辰 航 旭 阳 宸 铭 皓 然 天 煜 逸 嘉 奕 博 文 俊 杰 哲 翔 "
        "瑞 明 熙 烨 锦 霖 诚 宁 安 亦 沐"
    ),
    (False, 0): _words(
        "秀 英 兰 芳 珍 桂 玉 梅 凤 华 红 霞 丽 琴 萍 素 淑 翠 云 莲 娥 芬 菊 香 荣 春 美 金 银 爱"
    ),
    (False, 1): _words(
        "丽 芳 敏 静 艳 娟 霞 燕 玲 红 萍 婷 娜 洁 琳 雪 慧 倩 颖 晶 琴 莉 丹 蓉 梅 薇 佳 莹 露 妮"
    ),
    (False, 2): _words(
        "欣 怡 佳 雨 涵 萱 诗 梦 思 晨 悦 可 馨 琪 瑶 妍 彤 语 子 梓 若 依 蕾 一 诺 汐 芮 媛 璐 艺"
    ),
}
_SINGLE_CHAR_NAME_P: Final = (0.30, 0.22, 0.08)  # by era

_FOREIGN_NAMES: Final = {
    True: _words(
        "金敏俊 朴志勋 李承宇 田中一郎 铃木健太 约翰·史密斯 迈克尔·布朗 大卫·威尔逊 "
        "阮文雄 伊万·彼得罗夫 托马斯·穆勒 阿里·汗"
    ),
    False: _words(
        "李秀贤 崔允儿 金智妍 佐藤美咲 高桥由美 玛丽·约翰逊 艾米丽·戴维斯 安娜·伊万诺娃 "
        "阮氏梅 索菲·马丁 劳拉·施密特 萨拉·阿米尔"
    ),
}
_NATIONALITIES: Final = (
    ("韩国", "M", 3.0),
    ("日本", "TK", 2.0),
    ("美国", "5", 2.0),
    ("英国", "1", 1.0),
    ("德国", "C", 1.0),
    ("俄罗斯", "7", 1.0),
    ("越南", "B", 1.0),
    ("巴基斯坦", "AB", 1.0),
)

_ETHNICITIES: Final = ("汉族", "土家族", "回族", "苗族", "满族", "蒙古族", "壮族", "侗族")
_ETHNICITY_P: Final = np.array([0.885, 0.09, 0.006, 0.006, 0.004, 0.003, 0.003, 0.003])

# GB/T 2260 counties: code, full name, 籍贯 (province + city), weight as an origin of 流动人口.
_REGIONS: Final = (
    ("420502", "湖北省宜昌市西陵区", "湖北宜昌", 0.0),
    ("420503", "湖北省宜昌市伍家岗区", "湖北宜昌", 2.0),
    ("420504", "湖北省宜昌市点军区", "湖北宜昌", 2.0),
    ("420505", "湖北省宜昌市猇亭区", "湖北宜昌", 1.0),
    ("420506", "湖北省宜昌市夷陵区", "湖北宜昌", 6.0),
    ("420525", "湖北省宜昌市远安县", "湖北宜昌", 3.0),
    ("420526", "湖北省宜昌市兴山县", "湖北宜昌", 3.0),
    ("420527", "湖北省宜昌市秭归县", "湖北宜昌", 5.0),
    ("420528", "湖北省宜昌市长阳土家族自治县", "湖北宜昌", 5.0),
    ("420529", "湖北省宜昌市五峰土家族自治县", "湖北宜昌", 3.0),
    ("420581", "湖北省宜昌市宜都市", "湖北宜昌", 4.0),
    ("420582", "湖北省宜昌市当阳市", "湖北宜昌", 4.0),
    ("420583", "湖北省宜昌市枝江市", "湖北宜昌", 4.0),
    ("422801", "湖北省恩施土家族苗族自治州恩施市", "湖北恩施", 4.0),
    ("422802", "湖北省恩施土家族苗族自治州利川市", "湖北恩施", 2.0),
    ("422822", "湖北省恩施土家族苗族自治州建始县", "湖北恩施", 2.0),
    ("422823", "湖北省恩施土家族苗族自治州巴东县", "湖北恩施", 3.0),
    ("421002", "湖北省荆州市沙市区", "湖北荆州", 2.0),
    ("421003", "湖北省荆州市荆州区", "湖北荆州", 3.0),
    ("420802", "湖北省荆门市东宝区", "湖北荆门", 2.0),
    ("420602", "湖北省襄阳市襄城区", "湖北襄阳", 2.0),
    ("420106", "湖北省武汉市武昌区", "湖北武汉", 2.0),
    ("420111", "湖北省武汉市洪山区", "湖北武汉", 1.0),
    ("429004", "湖北省仙桃市", "湖北仙桃", 1.0),
    ("429005", "湖北省潜江市", "湖北潜江", 1.0),
    ("429006", "湖北省天门市", "湖北天门", 1.0),
    ("500101", "重庆市万州区", "重庆万州", 4.0),
    ("500102", "重庆市涪陵区", "重庆涪陵", 1.0),
    ("500236", "重庆市奉节县", "重庆奉节", 3.0),
    ("500237", "重庆市巫山县", "重庆巫山", 3.0),
    ("430602", "湖南省岳阳市岳阳楼区", "湖南岳阳", 2.0),
    ("430702", "湖南省常德市武陵区", "湖南常德", 2.0),
    ("430102", "湖南省长沙市芙蓉区", "湖南长沙", 1.0),
    ("411302", "河南省南阳市宛城区", "河南南阳", 2.0),
    ("411502", "河南省信阳市浉河区", "河南信阳", 1.0),
    ("410102", "河南省郑州市中原区", "河南郑州", 1.0),
    ("511302", "四川省南充市顺庆区", "四川南充", 1.0),
    ("510104", "四川省成都市锦江区", "四川成都", 1.0),
    ("360102", "江西省南昌市东湖区", "江西南昌", 1.0),
    ("340102", "安徽省合肥市瑶海区", "安徽合肥", 1.0),
    ("440106", "广东省广州市天河区", "广东广州", 1.0),
    ("320102", "江苏省南京市玄武区", "江苏南京", 0.5),
    ("330102", "浙江省杭州市上城区", "浙江杭州", 0.5),
    ("610102", "陕西省西安市新城区", "陕西西安", 1.0),
    ("520302", "贵州省遵义市红花岗区", "贵州遵义", 1.0),
    ("530102", "云南省昆明市五华区", "云南昆明", 0.5),
    ("370102", "山东省济南市历下区", "山东济南", 0.5),
    ("130102", "河北省石家庄市长安区", "河北石家庄", 0.5),
    ("450102", "广西壮族自治区南宁市兴宁区", "广西南宁", 0.5),
    ("350102", "福建省福州市鼓楼区", "福建福州", 0.5),
    ("210102", "辽宁省沈阳市和平区", "辽宁沈阳", 0.3),
    ("140105", "山西省太原市小店区", "山西太原", 0.3),
)
_REGION_CODE: Final = np.array([int(r[0]) for r in _REGIONS], dtype=np.int64)
_REGION_NAME: Final = np.array([r[1] for r in _REGIONS])
_REGION_NATIVE: Final = np.array([r[2] for r in _REGIONS])
_ORIGIN_P: Final = np.array([r[3] for r in _REGIONS]) / sum(r[3] for r in _REGIONS)
_FALLBACK_ORIGIN: Final = [r[0] for r in _REGIONS].index("422801")
_VILLAGES: Final = _words("茶园 桃园 柳树 石桥 枫林 竹园 河口 青山 白果 黄土 龙潭 响水 高峰 梨子")

_MOBILE_PREFIXES: Final = _words(
    "130 131 132 133 134 135 136 137 138 139 147 150 151 152 153 155 156 157 158 159 166 "
    "173 175 176 177 178 180 181 182 183 185 186 187 188 189 191 198 199"
)

# Household compositions. Relations: 0 户主, 1 配偶, 2 子女, 3 父母, 4 其他.
_RELATIONS: Final = ("户主", "配偶", "子女", "父母", "其他")
HEAD, SPOUSE, CHILD, PARENT, OTHER = range(5)
# (members, weight within its size, head age range, share of male heads)
_TEMPLATES: Final = (
    ((HEAD,), 0.80, (20, 64), 0.60),  # single adult
    ((HEAD,), 0.20, (65, 95), 0.35),  # elderly person living alone
    ((HEAD, SPOUSE), 0.25, (22, 45), 0.75),  # young couple
    ((HEAD, SPOUSE), 0.45, (50, 88), 0.75),  # empty nest
    ((HEAD, CHILD), 0.20, (30, 75), 0.40),  # single parent
    ((HEAD, PARENT), 0.05, (25, 55), 0.55),
    ((HEAD, OTHER), 0.05, (20, 60), 0.55),
    ((HEAD, SPOUSE, CHILD), 0.80, (25, 62), 0.75),
    ((HEAD, SPOUSE, PARENT), 0.10, (28, 55), 0.75),
    ((HEAD, CHILD, CHILD), 0.10, (35, 70), 0.40),
    ((HEAD, SPOUSE, CHILD, CHILD), 0.50, (30, 55), 0.75),
    ((HEAD, SPOUSE, CHILD, PARENT), 0.40, (28, 52), 0.75),
    ((HEAD, SPOUSE, PARENT, PARENT), 0.10, (28, 45), 0.75),
    ((HEAD, SPOUSE, CHILD, PARENT, PARENT), 0.55, (28, 48), 0.75),
    ((HEAD, SPOUSE, CHILD, CHILD, PARENT), 0.30, (30, 52), 0.75),
    ((HEAD, SPOUSE, CHILD, CHILD, CHILD), 0.15, (33, 52), 0.75),
)
# Household sizes 1–5 (2020 census shares, 6+ folded into 5).
_SIZE_P: Final = np.array([0.25, 0.30, 0.21, 0.13, 0.11])

_FLOATING_SHARE: Final = 0.25
_OVERSEAS_SHARE: Final = 0.002
_UNREGISTERED_SHARE: Final = 0.003
_PREVIOUS_RESIDENCE_SHARE: Final = 0.05
_OVERDUE_SHARE: Final = 0.10

_EDUCATION: Final = (
    "研究生",
    "大学本科",
    "大学专科",
    "高中",
    "中专",
    "初中",
    "小学",
    "文盲或半文盲",
)
# Adults' education by birth cohort (≥1990, 1970–89, 1955–69, <1955).
_EDUCATION_P: Final = np.array(
    [
        [0.06, 0.30, 0.22, 0.15, 0.10, 0.15, 0.02, 0.00],
        [0.03, 0.15, 0.17, 0.20, 0.10, 0.30, 0.05, 0.00],
        [0.00, 0.06, 0.08, 0.22, 0.08, 0.38, 0.15, 0.03],
        [0.00, 0.03, 0.04, 0.11, 0.04, 0.28, 0.35, 0.15],
    ]
)
_JOBS: Final = (
    "企业职工",
    "个体经营",
    "公务员",
    "事业单位人员",
    "教师",
    "医务人员",
    "自由职业",
    "服务业人员",
    "待业",
    "家务",
    "务工人员",
    "建筑工人",
    "快递员",
    "网约车司机",
)
_JOB_P_REGISTERED: Final = np.array(
    [0.34, 0.12, 0.04, 0.08, 0.04, 0.03, 0.08, 0.12, 0.08, 0.06, 0.0, 0.0, 0.005, 0.005]
)
_JOB_P_FLOATING: Final = np.array(
    [0.14, 0.12, 0.0, 0.01, 0.01, 0.01, 0.05, 0.12, 0.06, 0.03, 0.25, 0.10, 0.06, 0.04]
)
# Which organisation kind employs people of each job (index into _ORG_KINDS names).
_JOB_EMPLOYER: Final = {
    "企业职工": ("商贸公司", "科技公司", "制造企业", "物流公司", "建筑公司", "物业公司"),
    "公务员": ("机关",),
    "事业单位人员": ("机关", "社会组织"),
    "教师": ("小学", "中学", "幼儿园"),
    "医务人员": ("医院", "诊所"),
    "服务业人员": ("超市", "餐馆", "宾馆", "便利店", "美容美发店"),
    "建筑工人": ("建筑公司",),
    "快递员": ("物流公司",),
    "务工人员": ("制造企业", "餐馆", "建筑公司", "超市"),
}
_ARRIVAL_REASONS: Final = ("务工", "经商", "求学", "投亲")

# --------------------------------------------------------------------------- special groups

_GROUP_RATES: Final = {
    SpecialGroupType.DISABLED: 0.02,
    SpecialGroupType.LOW_INCOME: 0.02,
    SpecialGroupType.LEFT_BEHIND: 0.005,
    SpecialGroupType.ENTITLED: 0.003,
    SpecialGroupType.RELEASED_PRISONER: 0.001,
    SpecialGroupType.COMMUNITY_CORRECTION: 0.0005,
    SpecialGroupType.MENTAL_DISORDER: 0.004,
    SpecialGroupType.DRUG_USER: 0.0005,
    SpecialGroupType.KEY_YOUTH: 0.001,
}
_DANGER_P: Final = np.array([0.45, 0.25, 0.15, 0.09, 0.05, 0.01])
_OFFENCES: Final = _words("盗窃 诈骗 故意伤害 寻衅滋事 危险驾驶 开设赌场 交通肇事 非法经营")

# --------------------------------------------------------------------------- organisations


@dataclass(frozen=True)
class _OrgKind:
    name: str
    org_type: OrganisationType
    patterns: tuple[str, ...]  # {tn} trade name, {district} / {community} / {street} names
    staff: tuple[int, int]
    fire: float  # relative chance of being a 消防重点单位
    security: float  # relative chance of being a 治安重点单位
    authority: str = "91"  # GB 32100 registration authority + organisation type


_ORG_KINDS: Final = (
    _OrgKind(
        "商贸公司",
        OrganisationType.ENTERPRISE,
        ("宜昌市{district}{tn}商贸有限公司", "宜昌{tn}贸易有限公司"),
        (3, 60),
        0.3,
        0.1,
    ),
    _OrgKind(
        "科技公司",
        OrganisationType.ENTERPRISE,
        ("湖北{tn}科技有限公司", "宜昌{tn}信息技术有限公司"),
        (5, 200),
        0.3,
        0.1,
    ),
    _OrgKind(
        "建筑公司", OrganisationType.ENTERPRISE, ("宜昌{tn}建筑工程有限公司",), (10, 300), 0.5, 0.2
    ),
    _OrgKind(
        "物业公司", OrganisationType.ENTERPRISE, ("宜昌{tn}物业服务有限公司",), (5, 120), 0.3, 0.2
    ),
    _OrgKind(
        "制造企业",
        OrganisationType.ENTERPRISE,
        (
            "宜昌{tn}机械制造有限公司",
            "宜昌{tn}食品有限公司",
            "湖北{tn}化工有限公司",
            "宜昌{tn}建材有限公司",
        ),
        (20, 800),
        2.5,
        0.5,
    ),
    _OrgKind(
        "物流公司", OrganisationType.ENTERPRISE, ("宜昌{tn}物流有限公司",), (5, 150), 1.5, 0.3
    ),
    _OrgKind("超市", OrganisationType.SHOP, ("{tn}超市", "{tn}购物广场"), (3, 80), 1.5, 0.5),
    _OrgKind("便利店", OrganisationType.SHOP, ("{tn}便利店",), (1, 6), 0.1, 0.1),
    _OrgKind(
        "餐馆",
        OrganisationType.INDIVIDUAL_BUSINESS,
        ("{tn}餐馆", "{tn}火锅店", "{tn}小吃店", "{tn}面馆"),
        (2, 25),
        0.8,
        0.1,
        "92",
    ),
    _OrgKind(
        "美容美发店",
        OrganisationType.INDIVIDUAL_BUSINESS,
        ("{tn}美容美发店",),
        (1, 10),
        0.1,
        0.2,
        "92",
    ),
    _OrgKind("药店", OrganisationType.SHOP, ("{tn}大药房",), (2, 12), 0.2, 0.1),
    _OrgKind(
        "五金店", OrganisationType.INDIVIDUAL_BUSINESS, ("{tn}五金店",), (1, 6), 0.3, 0.1, "92"
    ),
    _OrgKind("宾馆", OrganisationType.ENTERPRISE, ("{tn}宾馆", "{tn}大酒店"), (5, 120), 6.0, 6.0),
    _OrgKind("KTV", OrganisationType.ENTERPRISE, ("{tn}KTV",), (5, 40), 8.0, 8.0),
    _OrgKind("网吧", OrganisationType.INDIVIDUAL_BUSINESS, ("{tn}网吧",), (2, 10), 5.0, 5.0, "92"),
    _OrgKind(
        "银行",
        OrganisationType.ENTERPRISE,
        ("中国工商银行宜昌{tn}支行", "中国建设银行宜昌{tn}支行", "湖北银行宜昌{tn}支行"),
        (8, 40),
        2.0,
        10.0,
    ),
    _OrgKind("农贸市场", OrganisationType.ENTERPRISE, ("{tn}农贸市场",), (10, 80), 6.0, 4.0),
    _OrgKind(
        "诊所", OrganisationType.HOSPITAL, ("{tn}诊所", "{tn}口腔诊所"), (2, 12), 0.5, 0.5, "52"
    ),
    _OrgKind(
        "医院",
        OrganisationType.HOSPITAL,
        ("宜昌市{tn}医院", "{community}卫生服务中心"),
        (40, 1_200),
        10.0,
        10.0,
        "12",
    ),
    _OrgKind(
        "小学", OrganisationType.SCHOOL, ("宜昌市{district}{tn}小学",), (30, 150), 10.0, 10.0, "12"
    ),
    _OrgKind("中学", OrganisationType.SCHOOL, ("宜昌市{tn}中学",), (50, 250), 10.0, 10.0, "12"),
    _OrgKind("幼儿园", OrganisationType.SCHOOL, ("{tn}幼儿园",), (10, 45), 10.0, 8.0, "52"),
    _OrgKind(
        "培训学校", OrganisationType.SOCIAL_ORGANISATION, ("{tn}培训学校",), (3, 30), 1.0, 0.5, "52"
    ),
    _OrgKind(
        "机关",
        OrganisationType.GOVERNMENT,
        ("{community}居民委员会", "{street}{office}"),
        (5, 40),
        1.0,
        1.0,
        "11",
    ),
    _OrgKind(
        "社会组织",
        OrganisationType.SOCIAL_ORGANISATION,
        ("宜昌市{tn}协会", "{community}志愿者协会"),
        (1, 20),
        0.2,
        0.1,
        "51",
    ),
)
_KIND_INDEX: Final = {k.name: i for i, k in enumerate(_ORG_KINDS)}


def _mix(spec: str) -> FloatArray:
    """Probabilities over _ORG_KINDS from "kind:weight kind:weight …"."""
    p = np.zeros(len(_ORG_KINDS))
    for item in spec.split():
        name, weight = item.split(":")
        p[_KIND_INDEX[name]] = float(weight)
    return p / p.sum()


# Which kinds of organisation each building use houses, and how many per building.
_USE_KINDS: Final = {
    "commercial": _mix(
        "超市:10 便利店:12 餐馆:22 美容美发店:8 药店:6 五金店:5 宾馆:6 KTV:3 网吧:3 "
        "银行:4 商贸公司:12 农贸市场:2 诊所:4 培训学校:3"
    ),
    "mixed": _mix(
        "便利店:15 餐馆:25 美容美发店:12 药店:8 五金店:8 诊所:8 宾馆:5 网吧:3 "
        "商贸公司:8 培训学校:5 物业公司:3"
    ),
    "office": _mix(
        "商贸公司:30 科技公司:20 建筑公司:10 物业公司:5 银行:5 社会组织:7 机关:10 "
        "物流公司:5 培训学校:8"
    ),
    "public": _mix("小学:20 中学:10 幼儿园:20 医院:10 诊所:5 机关:25 社会组织:10"),
    "industrial": _mix("制造企业:75 物流公司:15 建筑公司:10"),
}
_USE_ORG_WEIGHT: Final = {
    "commercial": 1.0,
    "mixed": 0.6,
    "office": 3.0,
    "public": 0.35,
    "industrial": 0.5,
}
# Dedicated grids (专属网格) override what their public/commercial buildings hold.
_DEDICATED_KINDS: Final = {
    "学校": _mix("小学:45 中学:30 幼儿园:20 培训学校:5"),
    "医院": _mix("医院:60 诊所:25 药店:15"),
    "农贸市场": _mix("农贸市场:35 超市:15 餐馆:25 便利店:15 五金店:10"),
}
_TRADE_CHARS: Final = _words(
    "鑫 源 华 宇 宏 达 恒 信 金 鼎 盛 世 三 峡 夷 陵 江 天 成 东 方 瑞 丰 嘉 和 兴 隆 "
    "永 安 福 顺 利 民 新 佳 美 惠 康 泰 汇 通 博 远 志 诚 正 德 明 锦 绣 荣 昌 龙 凤 祥 "
    "云 海 宜 众 乐 旺 园"
)
_FIRE_KEY_SHARE: Final = 0.05
_SECURITY_KEY_SHARE: Final = 0.03


# --------------------------------------------------------------------------- the city frame


@dataclass(frozen=True, eq=False)
class CityFrame:
    """The stored demo city, as parallel arrays ordered by code (what people are placed in)."""

    grid_code: Array
    grid_name: Array
    street_name: dict[str, str]  # 9-digit street prefix → name
    community_name: dict[str, str]  # 12-digit community code → name
    district_name: dict[str, str]  # 6-digit district code → name
    building_id: IntArray
    building_grid: IntArray  # index into grid_code
    building_use: Array
    building_address: Array
    building_x: FloatArray  # point on surface (lon, 4490), NaN for residential buildings
    building_y: FloatArray
    house_id: IntArray
    house_building: IntArray  # index into building_id
    house_unit: Array
    house_room: Array
    house_use: Array

    @property
    def building_district(self) -> Array:
        """6-digit district code of each building."""
        return np.array([c[:6] for c in self.grid_code])[self.building_grid]


def _read_csv(session: Session, query: str, params: dict[str, Any], dtype: Any) -> pd.DataFrame:
    """Run `query` through COPY … TO STDOUT and parse it with pandas (fast for millions of rows)."""
    cursor = session.connection().connection.cursor()
    bound = cursor.mogrify(query, params).decode()
    buffer = io.StringIO()
    cursor.copy_expert(f"COPY ({bound}) TO STDOUT WITH (FORMAT csv, HEADER)", buffer)
    buffer.seek(0)
    return pd.read_csv(buffer, dtype=dtype, keep_default_na=False, na_values={"x": [""], "y": [""]})


def load_city_frame(session: Session, *, district_codes: Sequence[str]) -> CityFrame:
    """Grids, buildings and houses of the districts, ordered by their codes."""
    session.flush()
    params = {"codes": list(district_codes)}
    grids = _read_csv(
        session,
        "SELECT code, name FROM grid WHERE district_code = ANY(%(codes)s) "
        'ORDER BY code COLLATE "C"',
        params,
        str,
    )
    units = _read_csv(
        session,
        "SELECT code, name, level::text AS level FROM admin_unit "
        "WHERE district_code = ANY(%(codes)s) ORDER BY code",
        params,
        str,
    )
    buildings = _read_csv(
        session,
        "SELECT b.id, b.code, b.grid_code, b.use::text AS use, coalesce(b.address, b.code) AS "
        "address, CASE WHEN b.use <> 'residential' THEN ST_X(ST_PointOnSurface(b.geom)) END AS x, "
        "CASE WHEN b.use <> 'residential' THEN ST_Y(ST_PointOnSurface(b.geom)) END AS y "
        "FROM building b JOIN grid g ON g.code = b.grid_code "
        'WHERE g.district_code = ANY(%(codes)s) ORDER BY b.code COLLATE "C"',
        params,
        {"id": np.int64, "code": str, "grid_code": str, "use": str, "address": str},
    )
    houses = _read_csv(
        session,
        "SELECT h.id, b.code AS building_code, h.unit, h.room, h.use::text AS use "
        "FROM house h JOIN building b ON b.id = h.building_id "
        "JOIN grid g ON g.code = b.grid_code WHERE g.district_code = ANY(%(codes)s) "
        'ORDER BY b.code COLLATE "C", h.unit COLLATE "C", h.floor, h.room COLLATE "C"',
        params,
        {"id": np.int64, "building_code": str, "unit": str, "room": str, "use": str},
    )
    grid_code = grids["code"].to_numpy(dtype=str)
    building_code = buildings["code"].to_numpy(dtype=str)
    building_grid = np.searchsorted(grid_code, buildings["grid_code"].to_numpy(dtype=str))
    house_building = np.searchsorted(building_code, houses["building_code"].to_numpy(dtype=str))
    # Both lists come sorted in code-point order (COLLATE "C"), as searchsorted needs.
    if len(houses) and not np.array_equal(building_code[house_building], houses["building_code"]):
        raise AssertionError("houses and buildings did not line up by building code")
    levels = units.groupby("level")
    names = {level: dict(zip(frame["code"], frame["name"], strict=True)) for level, frame in levels}
    return CityFrame(
        grid_code=grid_code,
        grid_name=grids["name"].to_numpy(dtype=str),
        street_name={c[:9]: n for c, n in names.get("street", {}).items()},
        community_name=names.get("community", {}),
        district_name={c[:6]: n for c, n in names.get("district", {}).items()},
        building_id=buildings["id"].to_numpy(dtype=np.int64),
        building_grid=building_grid.astype(np.int64),
        building_use=buildings["use"].to_numpy(dtype=str),
        building_address=buildings["address"].to_numpy(dtype=str),
        building_x=buildings["x"].to_numpy(dtype=float),
        building_y=buildings["y"].to_numpy(dtype=float),
        house_id=houses["id"].to_numpy(dtype=np.int64),
        house_building=house_building.astype(np.int64),
        house_unit=houses["unit"].to_numpy(dtype=str),
        house_room=houses["room"].to_numpy(dtype=str),
        house_use=houses["use"].to_numpy(dtype=str),
    )


# --------------------------------------------------------------------------- sampling helpers


def _pick(rng: np.random.Generator, p: FloatArray, n: int) -> IntArray:
    """`n` indices drawn with probabilities `p`."""
    return np.searchsorted(np.cumsum(p), rng.random(n) * p.sum(), side="right").clip(0, len(p) - 1)


def _pick_rows(rng: np.random.Generator, p: FloatArray) -> IntArray:
    """One column index per row of the row-stochastic matrix `p`."""
    cumulative = np.cumsum(p, axis=1)
    u = rng.random(len(p))[:, None] * cumulative[:, -1:]
    return np.minimum((u > cumulative).sum(axis=1), p.shape[1] - 1)


def _weighted_sample(rng: np.random.Generator, weights: FloatArray, k: int) -> IntArray:
    """`k` distinct indices, each drawn with probability proportional to its weight.

    Efraimidis–Spirakis: the k largest u**(1/w); zero weights are never drawn. Sorted.
    """
    eligible = np.flatnonzero(weights > 0)
    k = min(k, len(eligible))
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    keys = np.log(rng.random(len(eligible))) / weights[eligible]
    top = np.argpartition(-keys, k - 1)[:k]
    return np.sort(eligible[top]).astype(np.int64)


def _days(values: Any) -> Array:
    return np.asarray(values).astype("timedelta64[D]")


def _as_dates(days: Array) -> Array:
    """ISO date strings of datetime64[D] values."""
    return np.datetime_as_string(days, unit="D")


def _given_names(rng: np.random.Generator, male: BoolArray, year: IntArray) -> Array:
    """Given names (1 or 2 characters) typical of each person's sex and birth year."""
    era = np.where(year <= 1965, 0, np.where(year <= 1994, 1, 2))
    n = len(male)
    first = np.empty(n, dtype="<U1")
    second = np.empty(n, dtype="<U1")
    for sex in (True, False):
        for e in range(3):
            sel = np.flatnonzero((male == sex) & (era == e))
            pool = np.array(_GIVEN[(sex, e)])
            first[sel] = pool[rng.integers(0, len(pool), len(sel))]
            second[sel] = pool[rng.integers(0, len(pool), len(sel))]
    single = rng.random(n) < np.array(_SINGLE_CHAR_NAME_P)[era]
    second[single] = ""
    return np.strings.add(first, second)


def _chinese_names(
    rng: np.random.Generator, male: BoolArray, year: IntArray, surname: IntArray | None = None
) -> Array:
    """Full names: surname (by frequency, or the given index) + given name."""
    if surname is None:
        surname = _pick(rng, _SURNAME_P, len(male))
    return np.strings.add(_SURNAME[surname], _given_names(rng, male, year))


def _mobiles(rng: np.random.Generator, n: int) -> Array:
    """`n` valid mainland mobile numbers (bytes 'S11')."""
    prefixes = np.array([p.encode() for p in _MOBILE_PREFIXES], dtype="S3")
    chars = np.empty((n, 11), dtype=np.uint8)
    chars[:, :3] = prefixes[rng.integers(0, len(prefixes), n)].view(np.uint8).reshape(n, 3)
    chars[:, 3:] = rng.integers(0, 10, (n, 8)) + ord("0")
    return chars.view("S11").ravel()


def _masked_mobiles(phones: Array) -> Array:
    chars = phones.view(np.uint8).reshape(len(phones), 11).copy()
    chars[:, 3:7] = ord("*")
    return chars.view("S11").ravel()


_ID_WEIGHTS: Final = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
_ID_CHECK: Final = np.frombuffer(b"10X98765432", dtype=np.uint8)


def _id_numbers(region: IntArray, birth: Array, sequence: IntArray) -> Array:
    """GB 11643 numbers (bytes 'S18') of region + YYYYMMDD + 3-digit sequence + check."""
    n = len(region)
    year = birth.astype("datetime64[Y]").astype(np.int64) + 1970
    month = (birth.astype("datetime64[M]") - birth.astype("datetime64[Y]")).astype(np.int64) + 1
    day = (birth - birth.astype("datetime64[M]")).astype(np.int64) + 1
    body = np.empty((n, 17), dtype=np.int64)
    for column, (value, width) in enumerate(
        ((region, 6), (year * 10_000 + month * 100 + day, 8), (sequence, 3))
    ):
        start = (0, 6, 14)[column]
        for k in range(width):
            body[:, start + k] = value // 10 ** (width - 1 - k) % 10
    chars = np.empty((n, 18), dtype=np.uint8)
    chars[:, :17] = body + ord("0")
    chars[:, 17] = _ID_CHECK[(body @ _ID_WEIGHTS) % 11]
    return chars.view("S18").ravel()


def _unique_sequences(
    rng: np.random.Generator, region: IntArray, birth: Array, male: BoolArray
) -> IntArray:
    """3-digit ID sequences, odd for men, unique among people sharing region and birth day."""
    n = len(region)
    key = region * 100_000_000 + birth.astype(np.int64)  # days since 1970 fit in 8 digits
    start = rng.integers(0, 500, n)
    order = np.lexsort((start, male, key))
    k, m = key[order], male[order]
    new_group = np.r_[True, (k[1:] != k[:-1]) | (m[1:] != m[:-1])]
    group_start = np.flatnonzero(new_group)
    group = np.cumsum(new_group) - 1
    rank = np.arange(n) - group_start[group]
    if n and rank.max() >= 500:
        raise DemoPeopleError("more than 500 people share a region, birth day and sex")
    sequence = np.empty(n, dtype=np.int64)
    sequence[order] = 2 * ((start[order][group_start][group] + rank) % 500) + m
    return sequence


# --------------------------------------------------------------------------- generation


@dataclass(frozen=True, eq=False)
class DemoPeople:
    """Everything `generate_people` made: per-household, per-person and per-group columns.

    Person columns are parallel arrays; `household` indexes the household columns, house and
    building columns index the `CityFrame`. Strings that only exist at write time (addresses,
    encrypted values) are made per batch when copying.
    """

    # households
    hh_house: IntArray  # index into frame houses
    hh_size: IntArray
    hh_moved_in: Array  # datetime64[D]
    # persons
    household: IntArray
    relation: IntArray  # index into _RELATIONS
    residence_type: Array  # ResidenceType values
    doc_type: Array  # DocumentType values
    doc_number: Array  # str
    name: Array
    male: BoolArray
    birth: Array  # datetime64[D]
    ethnicity: IntArray
    region: IntArray  # index into _REGIONS for ID-card holders born there, else -1
    origin: Array  # '' when none
    arrival: Array  # datetime64[D], NaT when none
    arrival_reason: IntArray  # -1 when none
    permit_number: Array  # '' when none
    permit_expiry: Array  # datetime64[D], NaT when none
    phone: Array  # bytes 'S11', b'' when none
    education: IntArray  # -1 when none
    occupation: Array  # '' when none
    employer: IntArray  # index into organisations, -1 when none
    marital: Array  # '' when none
    political: Array
    moved_in: Array  # datetime64[D]
    # earlier, closed residences (人房关联 history)
    prev_person: IntArray
    prev_house: IntArray
    prev_moved_in: Array
    # special groups
    sg_person: IntArray
    sg_type: Array  # SpecialGroupType values
    sg_danger: IntArray  # -1 when none
    sg_started: Array
    sg_last_visit: Array  # NaT when never visited
    sg_interval: IntArray
    sg_details: list[dict[str, Any]]
    # organisations
    org_building: IntArray
    org_kind: IntArray
    org_name: Array
    org_sequence: IntArray
    org_staff: IntArray
    org_fire: BoolArray
    org_security: BoolArray
    org_legal: Array
    org_responsible: Array
    org_phone: list[str]
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def residents(self) -> int:
        """How many people were generated."""
        return len(self.household)


_OFFICES: Final = _words(
    "党群服务中心 社区服务中心 司法所 市场监督管理所 城管执法中队 税务所 财政所 文化站 "
    "劳动保障所 退役军人服务站 综治中心 卫生监督所"
)


def _org_name(kind: _OrgKind, choice: int, tn: str, grid_code: str, frame: CityFrame) -> str:
    """The name of an organisation of `kind`: pattern `choice`, trade name `tn`."""
    community = frame.community_name.get(grid_code[:12], "").removesuffix("社区") + "社区"
    return kind.patterns[choice % len(kind.patterns)].format(
        tn=tn,
        district=frame.district_name.get(grid_code[:6], ""),
        street=frame.street_name.get(grid_code[:9], ""),
        community=community,
        office=_OFFICES[choice % len(_OFFICES)],
    )


def _organisations(rng: np.random.Generator, frame: CityFrame, count: int) -> dict[str, Any]:
    """Organisations in the non-residential buildings, with key-unit flags and contacts."""
    uses = np.array(list(_USE_ORG_WEIGHT))
    weight = np.zeros(len(frame.building_use))
    for building_use, w in _USE_ORG_WEIGHT.items():
        weight[frame.building_use == building_use] = w
    if not weight.any() or count <= 0:
        empty = np.zeros(0, dtype=np.int64)
        return {
            "building": empty,
            "kind": empty,
            "name": np.zeros(0, dtype=str),
            "sequence": empty,
            "staff": empty,
            "fire": np.zeros(0, bool),
            "security": np.zeros(0, bool),
            "legal": np.zeros(0, dtype=str),
            "responsible": np.zeros(0, dtype=str),
            "phone": [],
        }
    building = np.sort(_pick(rng, weight / weight.sum(), count))
    use = frame.building_use[building]
    grid_name = frame.grid_name[frame.building_grid[building]]
    p = np.zeros((count, len(_ORG_KINDS)))
    for u in uses:
        p[use == u] = _USE_KINDS[str(u)]
    for tag, mix in _DEDICATED_KINDS.items():
        dedicated = np.char.find(grid_name.astype(str), f"（{tag}）") >= 0
        p[dedicated & np.isin(use, ("public", "commercial", "mixed"))] = mix
    kind = _pick_rows(rng, p)
    trade = np.array(_TRADE_CHARS)
    a = rng.integers(0, len(trade), count)
    b = (a + rng.integers(1, len(trade), count)) % len(trade)  # two different characters
    tn = np.strings.add(trade[a], trade[b])
    pattern = rng.integers(0, 120, count)
    grid_code = frame.grid_code[frame.building_grid[building]]
    names = [
        _org_name(_ORG_KINDS[k], c, t, g, frame)
        for k, c, t, g in zip(
            kind.tolist(), pattern.tolist(), tn.tolist(), grid_code.tolist(), strict=True
        )
    ]
    lo = np.array([k.staff[0] for k in _ORG_KINDS])[kind]
    hi = np.array([k.staff[1] for k in _ORG_KINDS])[kind]
    # Staff counts are skewed: most units small, a few large.
    staff = (lo + (hi - lo) * rng.random(count) ** 2.5).round().astype(np.int64)
    size_factor = 1 + np.log1p(staff) / 4
    fire_w = np.array([k.fire for k in _ORG_KINDS])[kind] * size_factor
    security_w = np.array([k.security for k in _ORG_KINDS])[kind] * size_factor
    fire = np.zeros(count, bool)
    fire[_weighted_sample(rng, fire_w, round(_FIRE_KEY_SHARE * count))] = True
    security = np.zeros(count, bool)
    security[_weighted_sample(rng, security_w, round(_SECURITY_KEY_SHARE * count))] = True
    year = rng.integers(1955, 2000, (2, count))
    male = rng.random((2, count)) < 0.65
    legal = _chinese_names(rng, male[0], year[0])
    same = rng.random(count) < 0.5  # small units: the legal representative is in charge
    responsible = np.where(same, legal, _chinese_names(rng, male[1], year[1]))
    mobiles = _mobiles(rng, count).astype(str)
    landline = (
        rng.random(count)
        < np.isin(
            np.array([k.org_type for k in _ORG_KINDS])[kind],
            (OrganisationType.SCHOOL, OrganisationType.HOSPITAL, OrganisationType.GOVERNMENT),
        )
        * 0.7
    )
    exchange = rng.integers(0, 1_000_000, count)
    phone = [
        f"0717-6{e:06d}" if land else m
        for land, e, m in zip(landline.tolist(), exchange.tolist(), mobiles.tolist(), strict=True)
    ]
    return {
        "building": building.astype(np.int64),
        "kind": kind.astype(np.int64),
        "name": np.array(names),
        "sequence": np.sort(rng.choice(100_000_000, size=count, replace=False)),
        "staff": staff,
        "fire": fire,
        "security": security,
        "legal": legal,
        "responsible": responsible,
        "phone": phone,
    }


def _ages_and_sexes(
    rng: np.random.Generator,
    tpl: IntArray,
    hh: IntArray,
    rel: IntArray,
    within: IntArray,
    size: IntArray,
) -> tuple[FloatArray, BoolArray]:
    """Ages (fractional years) and sexes of household members from their template."""
    n_hh = len(tpl)
    n = len(hh)
    lo = np.array([t[2][0] for t in _TEMPLATES], float)[tpl]
    hi = np.array([t[2][1] for t in _TEMPLATES], float)[tpl] + 1
    head_age = lo + (hi - lo) * rng.random(n_hh)
    head_male = rng.random(n_hh) < np.array([t[3] for t in _TEMPLATES])[tpl]
    ha = head_age[hh]
    age = ha.copy()
    spouse = rel == SPOUSE
    age[spouse] = np.clip(ha[spouse] + rng.normal(-2.0, 3.0, spouse.sum()), 18, 100)
    child = rel == CHILD
    gap = 22 + (np.minimum(36, ha[child]) - 22) * rng.random(child.sum())
    age[child] = np.maximum(ha[child] - gap, 0) + rng.random(child.sum()) * 0.99 * (
        ha[child] - gap < 0
    )
    parent = rel == PARENT
    age[parent] = np.minimum(ha[parent] + 22 + 12 * rng.random(parent.sum()), 100.5)
    other = rel == OTHER
    age[other] = 18 + 57 * rng.random(other.sum())

    male = rng.random(n) < 0.515
    male[rel == HEAD] = head_male[hh[rel == HEAD]]
    male[spouse] = ~head_male[hh[spouse]]
    # Two parents are a couple; a lone parent is more often a widowed mother.
    last = within == size[hh] - 1
    second_parent = parent & np.r_[False, rel[:-1] == PARENT] & (within > 0)
    first_of_two = parent & np.r_[rel[1:] == PARENT, False] & ~last
    lone_parent = parent & ~second_parent & ~first_of_two
    male[first_of_two] = rng.random(first_of_two.sum()) < 0.5
    male[second_parent] = ~male[np.flatnonzero(second_parent) - 1]
    male[lone_parent] = rng.random(lone_parent.sum()) < 0.35
    return age, male


def _marital(rng: np.random.Generator, age: FloatArray, partnered: BoolArray) -> Array:
    """婚姻状况: partnered adults are married; the others by age."""
    n = len(age)
    status = np.full(n, "未婚", dtype="<U2")
    band = np.digitize(age, (30, 45, 60, 75))
    # 未婚, 离婚, 丧偶, 已婚 (spouse living elsewhere) for unpartnered adults by age band
    p = np.array(
        [
            [0.88, 0.08, 0.00, 0.04],
            [0.45, 0.35, 0.05, 0.15],
            [0.20, 0.45, 0.20, 0.15],
            [0.08, 0.30, 0.50, 0.12],
            [0.05, 0.12, 0.75, 0.08],
        ]
    )
    pick = _pick_rows(rng, p[band])
    status[:] = np.array(["未婚", "离婚", "丧偶", "已婚"])[pick]
    status[partnered] = "已婚"
    status[age < 20] = "未婚"
    return status


def generate_people(
    frame: CityFrame,
    *,
    scale: str = "demo",
    seed: int = DEFAULT_SEED,
    today: date | None = None,
    visit_intervals: dict[tuple[str, int], int] | None = None,
    workers_of_grid: Sequence[Sequence[int]] | None = None,
) -> DemoPeople:
    """Residents, households, special groups and organisations for `frame` (no database).

    `visit_intervals` maps (group type, min danger level) → days (the `visit_interval` table);
    `workers_of_grid[i]` lists the staff ids responsible for grid i (for special groups).
    """
    spec = _people_scale(scale)
    today = today or local_today()
    anchor = np.datetime64(min(today, REFERENCE_DAY), "D")
    today64 = np.datetime64(today, "D")
    streams = [np.random.default_rng([seed, 7_000 + i]) for i in range(12)]
    intervals = visit_intervals or {}

    orgs = _organisations(streams[0], frame, spec.organisations)

    # Households: sizes 1–5 adding up to the target, each in its own house where possible.
    rng = streams[1]
    target = spec.residents
    sizes = _pick(rng, _SIZE_P, int(target / 2.4) + 100) + 1
    total = np.cumsum(sizes)
    n_hh = int(np.searchsorted(total, target)) + 1
    sizes = sizes[:n_hh].astype(np.int64)
    sizes[-1] -= int(total[n_hh - 1]) - target
    candidates = np.flatnonzero(np.isin(frame.house_use, ("self_occupied", "rented")))
    if len(candidates) == 0:
        raise DemoPeopleError("the demo city has no dwellings (self-occupied or rented houses)")
    if n_hh <= len(candidates):
        house = np.sort(rng.choice(candidates, n_hh, replace=False))
    else:  # more households than dwellings: some share a house
        extra = rng.choice(candidates, n_hh - len(candidates))
        house = np.sort(np.concatenate([candidates, extra]))
    tpl = np.empty(n_hh, dtype=np.int64)
    tpl_size = np.array([len(t[0]) for t in _TEMPLATES])
    tpl_weight = np.array([t[1] for t in _TEMPLATES])
    for s in range(1, 6):
        members = np.flatnonzero(sizes == s)
        options = np.flatnonzero(tpl_size == s)
        tpl[members] = options[_pick(rng, tpl_weight[options], len(members))]
    flat = np.concatenate([np.array(t[0]) for t in _TEMPLATES])
    tpl_start = np.r_[0, np.cumsum(tpl_size)[:-1]]
    hh = np.repeat(np.arange(n_hh), sizes)
    n = len(hh)
    first = np.cumsum(sizes) - sizes
    within = np.arange(n) - first[hh]
    rel = flat[tpl_start[tpl][hh] + within]
    age, male = _ages_and_sexes(rng, tpl, hh, rel, within, sizes)
    birth = anchor - _days(np.floor(age * _DAYS_PER_YEAR))
    year = birth.astype("datetime64[Y]").astype(np.int64) + 1970

    # Residence type: floating households favour rented houses; a few overseas households.
    rng = streams[2]
    rented = frame.house_use[house] == "rented"
    hh_type = np.full(n_hh, ResidenceType.REGISTERED.value, dtype=object)
    score = rng.random(n_hh) * np.where(rented, 4.0, 1.0)
    order = np.argsort(-score, kind="stable")
    floating_hh = order[np.cumsum(sizes[order]) <= _FLOATING_SHARE * n]
    hh_type[floating_hh] = ResidenceType.FLOATING.value
    small = (hh_type == ResidenceType.REGISTERED.value) & (sizes <= 2)
    overseas_w = np.where(small, np.where(rented, 5.0, 1.0), 0.0)
    overseas_hh = _weighted_sample(rng, overseas_w, max(1, round(_OVERSEAS_SHARE * n / 1.5)))
    hh_type[overseas_hh] = ResidenceType.OVERSEAS.value
    residence_type = hh_type[hh].astype("<U12")
    # 未落户: individuals without household registration, mostly young non-heads.
    unregistered_w = np.where(
        (rel != HEAD) & (residence_type != ResidenceType.OVERSEAS.value),
        np.where(age < 30, 3.0, 0.5),
        0.0,
    )
    unregistered = _weighted_sample(rng, unregistered_w, round(_UNREGISTERED_SHARE * n))
    residence_type[unregistered] = ResidenceType.UNREGISTERED.value

    # Documents. Registered residents hold IDs of their district; floating ones of their
    # household's origin; overseas people passports or HK/Macau/Taiwan residence permits.
    house_district = frame.building_district[frame.house_building[house]]
    district_region = np.array([int(d) for d in house_district], dtype=np.int64)
    origin_region = _pick(rng, _ORIGIN_P, n_hh)
    same = _REGION_CODE[origin_region] == district_region
    origin_region[same] = _FALLBACK_ORIGIN
    region = np.full(n, -1, dtype=np.int64)
    region_code = district_region[hh].copy()
    is_floating = residence_type == ResidenceType.FLOATING.value
    region[is_floating] = origin_region[hh[is_floating]]
    region_code[is_floating] = _REGION_CODE[region[is_floating]]
    code_index = {int(c): i for i, c in enumerate(_REGION_CODE)}
    registered_mask = ~is_floating
    region[registered_mask] = np.array([code_index.get(int(c), -1) for c in region_code])[
        registered_mask
    ]
    doc_type = np.full(n, DocumentType.ID_CARD.value, dtype=object)
    overseas = residence_type == ResidenceType.OVERSEAS.value
    # Overseas households share a kind: 0 foreign passport, 1 HK, 2 Macau, 3 Taiwan.
    overseas_kind = _pick(rng, np.array([0.6, 0.15, 0.1, 0.15]), n_hh)[hh]
    permit_region = np.array([0, 810000, 820000, 830000])[overseas_kind]
    permit_holder = overseas & (overseas_kind > 0)
    region_code[permit_holder] = permit_region[permit_holder]
    region[overseas] = -1
    doc_type[permit_holder & (overseas_kind < 3)] = DocumentType.HK_MACAU_RESIDENCE.value
    doc_type[permit_holder & (overseas_kind == 3)] = DocumentType.TAIWAN_RESIDENCE.value
    passport = overseas & (overseas_kind == 0)
    doc_type[passport] = DocumentType.PASSPORT.value
    is_unregistered = residence_type == ResidenceType.UNREGISTERED.value
    doc_type[is_unregistered] = DocumentType.OTHER.value
    doc_type = doc_type.astype(str)

    gb11643 = np.isin(
        doc_type,
        (
            DocumentType.ID_CARD.value,
            DocumentType.HK_MACAU_RESIDENCE.value,
            DocumentType.TAIWAN_RESIDENCE.value,
        ),
    )
    doc_number = np.empty(n, dtype=object)
    idx = np.flatnonzero(gb11643)
    sequence = _unique_sequences(rng, region_code[idx], birth[idx], male[idx])
    doc_number[idx] = _id_numbers(region_code[idx], birth[idx], sequence).astype(str)
    nationality = _pick(rng, np.array([x[2] for x in _NATIONALITIES]), n_hh)[hh]
    idx = np.flatnonzero(passport)
    serial = rng.choice(10_000_000, size=len(idx), replace=False)
    doc_number[idx] = [
        f"{_NATIONALITIES[k][1]}{s:08d}"
        for k, s in zip(nationality[idx].tolist(), serial.tolist(), strict=True)
    ]
    idx = np.flatnonzero(is_unregistered)
    serial = rng.choice(900_000_000, size=len(idx), replace=False) + 100_000_000
    doc_number[idx] = [f"出生医学证明Q{s}" for s in serial.tolist()]
    doc_number = doc_number.astype(str)

    # Names: children and a head's father carry the family surname.
    rng = streams[3]
    family = _pick(rng, _SURNAME_P, n_hh)
    spouse_surname = _pick(rng, _SURNAME_P, n_hh)
    head_male = np.zeros(n_hh, bool)
    head_male[hh[rel == HEAD]] = male[rel == HEAD]
    surname = _pick(rng, _SURNAME_P, n)
    fam = family[hh]
    surname[rel == HEAD] = fam[rel == HEAD]
    surname[rel == SPOUSE] = spouse_surname[hh[rel == SPOUSE]]
    has_spouse = np.zeros(n_hh, bool)
    has_spouse[hh[rel == SPOUSE]] = True
    child = rel == CHILD
    father_name = np.where(head_male | ~has_spouse, family, spouse_surname)
    surname[child] = father_name[hh[child]]
    surname[(rel == PARENT) & male] = fam[(rel == PARENT) & male]
    name = _chinese_names(rng, male, year, surname)
    foreign = np.flatnonzero(passport)
    for sex in (True, False):
        pool = np.array(_FOREIGN_NAMES[sex])
        sel = foreign[male[foreign] == sex]
        name = name.astype(f"<U{max(name.dtype.itemsize // 4, max(map(len, pool)))}")
        name[sel] = pool[rng.integers(0, len(pool), len(sel))]

    # Ethnicity by household (a spouse may differ), phones, schooling, work, politics.
    rng = streams[4]
    ethnicity = _pick(rng, _ETHNICITY_P, n_hh)[hh]
    ethnicity[rel == SPOUSE] = _pick(rng, _ETHNICITY_P, int((rel == SPOUSE).sum()))
    phone_p = np.select([age < 12, age < 18, age < 70, age < 80], [0.0, 0.8, 0.99, 0.88], 0.65)
    has_phone = rng.random(n) < phone_p
    phone = np.where(has_phone, _mobiles(rng, n), b"")

    cohort = 3 - np.digitize(year, (1955, 1970, 1990))  # 0: born 1990 or later … 3: before 1955
    education = _pick_rows(rng, _EDUCATION_P[np.clip(cohort, 0, 3)])
    education = np.select(
        [age < 6, age < 12, age < 15, age < 18],
        [-1, _EDUCATION.index("小学"), _EDUCATION.index("初中"), _EDUCATION.index("高中")],
        education,
    )

    arrival_reason = np.full(n, -1, dtype=np.int64)
    reason = _pick(rng, np.array([0.65, 0.2, 0.0, 0.15]), n)
    reason[age < 18] = _ARRIVAL_REASONS.index("投亲")
    student = (age >= 18) & (age < 24) & (rng.random(n) < 0.5)
    reason[student] = _ARRIVAL_REASONS.index("求学")
    arrival_reason[is_floating] = reason[is_floating]

    job = np.where(is_floating, _pick(rng, _JOB_P_FLOATING, n), _pick(rng, _JOB_P_REGISTERED, n))
    occupation = np.array(_JOBS, dtype=object)[job]
    occupation[is_floating & (arrival_reason == _ARRIVAL_REASONS.index("经商"))] = "个体经营"
    retired = np.where(male, age >= 60, age >= 55)
    occupation[retired] = np.where(rng.random(int(retired.sum())) < 0.88, "离退休人员", "无业")
    occupation[(age >= 18) & (age < 23) & (rng.random(n) < 0.55)] = "学生"
    occupation[is_floating & (arrival_reason == _ARRIVAL_REASONS.index("求学"))] = "学生"
    occupation[(age >= 6) & (age < 18)] = "学生"
    occupation[age < 6] = ""
    occupation = occupation.astype(str)
    employer = np.full(n, -1, dtype=np.int64)
    for job_name, kinds in _JOB_EMPLOYER.items():
        pool = np.flatnonzero(np.isin(orgs["kind"], [_KIND_INDEX[k] for k in kinds]))
        sel = np.flatnonzero((occupation == job_name) & (rng.random(n) < 0.6))
        if len(pool):
            employer[sel] = pool[rng.integers(0, len(pool), len(sel))]

    party = rng.random(n) < np.where(age >= 60, 0.12, np.where(age >= 25, 0.08, 0.02))
    league = (age >= 14) & (age < 28) & (rng.random(n) < 0.35)
    political = np.where(
        party & (age >= 18), "中共党员", np.where(league, "共青团员", "群众")
    ).astype("<U4")
    political[(rng.random(n) < 0.002) & (age >= 30)] = "民主党派"
    partnered = np.isin(rel, (HEAD, SPOUSE)) & has_spouse[hh]
    pair_parent = (rel == PARENT) & (
        np.r_[False, rel[:-1] == PARENT] | np.r_[rel[1:] == PARENT, False]
    )
    marital = _marital(rng, age, partnered | pair_parent)

    # Arrival, residence permits and moves.
    rng = streams[5]
    years_here = np.where(
        hh_type == ResidenceType.REGISTERED.value,
        rng.random(n_hh) * 25,
        rng.exponential(2.5, n_hh).clip(0.05, 15),
    )
    hh_moved_in = today64 - _days(np.floor(years_here * _DAYS_PER_YEAR))
    moved_in = np.maximum(hh_moved_in[hh], birth)
    arrival = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    arrival[is_floating] = moved_in[is_floating] - _days(
        rng.integers(0, 60, int(is_floating.sum()))
    )
    arrival[is_floating] = np.maximum(arrival[is_floating], birth[is_floating])
    permit = is_floating & (age >= 16) & (rng.random(n) < 0.65)
    issued = arrival + _days(rng.integers(30, 400, n))
    permit &= issued < today64
    # Permits run a year or three and are mostly renewed in time; about 15 % have lapsed.
    term = np.where(rng.random(n) < 0.7, 365, 3 * 365)
    lapsed = rng.random(n) < 0.15
    expiry = np.where(
        lapsed,
        today64 - _days(rng.integers(1, 180, n)),
        today64 + _days((rng.random(n) * term).astype(np.int64) + 1),
    )
    permit_expiry = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    permit_expiry[permit] = np.maximum(expiry, issued + np.timedelta64(30, "D"))[permit]
    issue_year = issued.astype("datetime64[Y]").astype(np.int64) + 1970
    permit_number = np.full(n, "", dtype=object)
    idx = np.flatnonzero(permit)
    permit_number[idx] = [
        f"JZZ{d}{y}{s:06d}"
        for d, y, s in zip(
            house_district[hh[idx]].tolist(),
            issue_year[idx].tolist(),
            np.arange(1, len(idx) + 1).tolist(),
            strict=True,
        )
    ]
    origin = np.full(n, "", dtype=object)
    origin[is_floating] = _REGION_NAME[region[is_floating]]
    origin[passport] = np.array([x[0] for x in _NATIONALITIES])[nationality[passport]]
    hk = permit_holder & (overseas_kind == 1)
    origin[hk] = "香港特别行政区"
    origin[permit_holder & (overseas_kind == 2)] = "澳门特别行政区"
    origin[permit_holder & (overseas_kind == 3)] = "台湾地区"

    # Earlier residences in another house for about 5 % of the people.
    moved_hh = rng.random(n_hh) < _PREVIOUS_RESIDENCE_SHARE
    old_enough = moved_in - birth > np.timedelta64(730, "D")
    prev_person = np.flatnonzero(moved_hh[hh] & old_enough)
    pool = np.arange(len(frame.house_id))
    prev_house_hh = pool[rng.integers(0, len(pool), n_hh)]
    clash = prev_house_hh == house
    prev_house_hh[clash] = (prev_house_hh[clash] + 1) % len(pool)
    prev_house = prev_house_hh[hh[prev_person]]
    stay = _days(np.floor(rng.uniform(0.5, 12, len(prev_person)) * _DAYS_PER_YEAR))
    prev_moved_in = np.maximum(moved_in[prev_person] - stay, birth[prev_person])

    # Special groups.
    groups = _special_groups(
        streams[6],
        frame=frame,
        today=today64,
        intervals=intervals,
        workers_of_grid=workers_of_grid,
        house=house,
        hh=hh,
        sizes=sizes,
        age=(today64 - birth).astype(np.int64) / _DAYS_PER_YEAR,  # ages as of today
        turned_65=birth <= np.datetime64(_years_before(today, 65), "D"),
        male=male,
        birth=birth,
        residence_type=residence_type,
    )
    return DemoPeople(
        hh_house=house.astype(np.int64),
        hh_size=sizes,
        hh_moved_in=hh_moved_in,
        household=hh.astype(np.int64),
        relation=rel.astype(np.int64),
        residence_type=residence_type,
        doc_type=doc_type,
        doc_number=doc_number,
        name=name,
        male=male,
        birth=birth,
        ethnicity=ethnicity,
        region=region,
        origin=origin.astype(str),
        arrival=arrival,
        arrival_reason=arrival_reason,
        permit_number=permit_number.astype(str),
        permit_expiry=permit_expiry,
        phone=phone,
        education=education.astype(np.int64),
        occupation=occupation,
        employer=employer,
        marital=marital,
        political=political,
        moved_in=moved_in,
        prev_person=prev_person.astype(np.int64),
        prev_house=prev_house.astype(np.int64),
        prev_moved_in=prev_moved_in,
        sg_person=groups["person"],
        sg_type=groups["type"],
        sg_danger=groups["danger"],
        sg_started=groups["started"],
        sg_last_visit=groups["last_visit"],
        sg_interval=groups["interval"],
        sg_details=groups["details"],
        org_building=orgs["building"],
        org_kind=orgs["kind"],
        org_name=orgs["name"],
        org_sequence=orgs["sequence"],
        org_staff=orgs["staff"],
        org_fire=orgs["fire"],
        org_security=orgs["security"],
        org_legal=orgs["legal"],
        org_responsible=orgs["responsible"],
        org_phone=orgs["phone"],
        extras={"responsible": groups["responsible"], "nationality": nationality},
    )


def _years_before(day: date, years: int) -> date:
    """The same calendar day `years` earlier (28 February for a 29 February)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def _interval_days(intervals: dict[tuple[str, int], int], group: str, danger: int) -> int:
    """The interval of the highest min_danger_level ≤ danger (90 days when unconfigured)."""
    levels = [lvl for (g, lvl) in intervals if g == group and lvl <= danger]
    return intervals[(group, max(levels))] if levels else 90


def _special_groups(
    rng: np.random.Generator,
    *,
    frame: CityFrame,
    today: np.datetime64,
    intervals: dict[tuple[str, int], int],
    workers_of_grid: Sequence[Sequence[int]] | None,
    house: IntArray,
    hh: IntArray,
    sizes: IntArray,
    age: FloatArray,
    turned_65: BoolArray,
    male: BoolArray,
    birth: Array,
    residence_type: Array,
) -> dict[str, Any]:
    """Special-group memberships at realistic rates, with details and a visit schedule.

    Everyone 65 or older (on `today`) who lives alone is an elderly person living alone.
    """
    n = len(hh)
    local = residence_type != ResidenceType.OVERSEAS.value
    registered = residence_type == ResidenceType.REGISTERED.value
    members: list[tuple[SpecialGroupType, IntArray]] = [
        (SpecialGroupType.ELDERLY_ALONE, np.flatnonzero((sizes[hh] == 1) & turned_65 & local))
    ]
    weights = {
        SpecialGroupType.DISABLED: local * (1 + age / 25),
        SpecialGroupType.LOW_INCOME: registered * (1 + (age >= 60) + (sizes[hh] == 1)),
        SpecialGroupType.LEFT_BEHIND: registered
        * (((age < 16) & (sizes[hh] >= 3)) * 3.0 + ((age >= 65) & (sizes[hh] <= 2)) * 1.0),
        SpecialGroupType.ENTITLED: local * (age >= 40) * np.where(male, 4.0, 1.0),
        SpecialGroupType.RELEASED_PRISONER: local
        * ((age >= 20) & (age < 65))
        * np.where(male, 9.0, 1.0),
        SpecialGroupType.COMMUNITY_CORRECTION: local
        * ((age >= 18) & (age < 65))
        * np.where(male, 4.0, 1.0),
        SpecialGroupType.MENTAL_DISORDER: local * (age >= 18),
        SpecialGroupType.DRUG_USER: local * ((age >= 18) & (age < 60)) * np.where(male, 4.0, 1.0),
        SpecialGroupType.KEY_YOUTH: local * ((age >= 12) & (age < 25)) * np.where(male, 3.0, 1.0),
    }
    for group, rate in _GROUP_RATES.items():
        w = np.asarray(weights[group], float)
        members.append((group, _weighted_sample(rng, w, max(1, round(rate * n)))))
    person = np.concatenate([m for _, m in members]).astype(np.int64)
    kind = np.concatenate([np.full(len(m), g.value, dtype=object) for g, m in members]).astype(str)
    count = len(person)
    danger = np.full(count, -1, dtype=np.int64)
    mental = kind == SpecialGroupType.MENTAL_DISORDER.value
    danger[mental] = _pick(rng, _DANGER_P, int(mental.sum()))
    interval = np.array(
        [
            _interval_days(intervals, k, max(d, 0))
            for k, d in zip(kind, danger.tolist(), strict=True)
        ],
        dtype=np.int64,
    )
    started = today - _days(rng.integers(20, 3_650, count))
    started = np.maximum(started, birth[person] + np.timedelta64(1, "D"))
    overdue = rng.random(count) < _OVERDUE_SHARE
    last = np.where(
        overdue,
        today - _days(interval + rng.integers(1, 46, count)),
        today - _days((rng.random(count) * interval).astype(np.int64)),
    )
    started = np.minimum(started, last)
    never = ~overdue & (rng.random(count) < 0.04)
    # Never visited yet: a recent case whose first visit is still ahead.
    started[never] = today - _days(rng.integers(0, 1, int(never.sum())) + (interval[never] // 2))
    last_visit = last.copy()
    last_visit[never] = np.datetime64("NaT")
    responsible = np.full(count, -1, dtype=np.int64)
    if workers_of_grid is not None:
        grid = frame.building_grid[frame.house_building[house[hh[person]]]]
        choice = rng.random(count)
        responsible = np.array(
            [
                workers[int(c * len(workers))] if workers else -1
                for workers, c in zip(
                    (workers_of_grid[g] for g in grid.tolist()), choice.tolist(), strict=True
                )
            ],
            dtype=np.int64,
        )
    details = _details(rng, kind, danger, age[person], today)
    return {
        "person": person,
        "type": kind,
        "danger": danger,
        "started": started,
        "last_visit": last_visit,
        "interval": interval,
        "details": details,
        "responsible": responsible,
    }


def _details(
    rng: np.random.Generator, kind: Array, danger: IntArray, age: FloatArray, today: np.datetime64
) -> list[dict[str, Any]]:
    """Type-specific extension data of each special-group membership."""
    out: list[dict[str, Any]] = []
    u = rng.random((len(kind), 4))
    day = today.astype(object)

    def pick(options: Sequence[Any], x: float) -> Any:
        return options[min(int(x * len(options)), len(options) - 1)]

    for k, d, a, (x, y, z, w) in zip(kind.tolist(), danger.tolist(), age.tolist(), u, strict=True):
        if k == SpecialGroupType.ELDERLY_ALONE:
            item = {
                "health": pick(("良好", "一般", "较差", "失能"), x**1.5),
                "self_care": pick(("自理", "半自理", "不能自理"), y**2),
                "children_nearby": bool(z < 0.55),
                "monthly_pension_yuan": int(1_200 + 3_000 * w),
            }
        elif k == SpecialGroupType.DISABLED:
            item = {
                "disability_type": pick(
                    ("视力", "听力", "言语", "肢体", "智力", "精神", "多重"), x
                ),
                "grade": pick(("一级", "二级", "三级", "四级"), y),
                "certified": bool(z < 0.9),
            }
        elif k == SpecialGroupType.LOW_INCOME:
            item = {
                "category": pick(("城市低保", "特困供养", "低收入家庭"), x**1.5),
                "monthly_allowance_yuan": int(300 + 500 * y),
            }
        elif k == SpecialGroupType.LEFT_BEHIND:
            child = a < 18
            item = {
                "kind": "留守儿童" if child else "留守老人",
                "guardian_relation": pick(("祖父母", "外祖父母", "其他亲属"), x)
                if child
                else "本人",
                "family_working_in": pick(("广东省", "浙江省", "上海市", "武汉市", "江苏省"), y),
            }
        elif k == SpecialGroupType.ENTITLED:
            item = {
                "category": pick(("退役军人", "伤残军人", "烈士遗属", "带病回乡退伍军人"), x**2),
                "service_years": int(2 + 18 * y),
            }
        elif k == SpecialGroupType.RELEASED_PRISONER:
            released = day - timedelta(days=int(30 + 1_800 * x))
            item = {
                "offence": pick(_OFFENCES, y),
                "sentence_months": int(6 + 114 * z**2),
                "released_on": released.isoformat(),
                "resettled": bool(w < 0.8),
            }
        elif k == SpecialGroupType.COMMUNITY_CORRECTION:
            start = day - timedelta(days=int(30 + 700 * x))
            item = {
                "correction_type": pick(("缓刑", "假释", "管制", "暂予监外执行"), y**1.5),
                "offence": pick(_OFFENCES, z),
                "term_start": start.isoformat(),
                "term_end": (start + timedelta(days=int(180 + 900 * w))).isoformat(),
            }
        elif k == SpecialGroupType.MENTAL_DISORDER:
            item = {
                "diagnosis": pick(
                    (
                        "精神分裂症",
                        "双相情感障碍",
                        "偏执性精神病",
                        "分裂情感性障碍",
                        "癫痫所致精神障碍",
                        "精神发育迟滞伴发精神障碍",
                    ),
                    x**1.3,
                ),
                "guardian_relation": pick(("配偶", "父母", "子女", "兄弟姐妹"), y),
                "medication": pick(("规律服药", "间断服药", "不服药"), z**1.5),
                "risk_level": d,
            }
        elif k == SpecialGroupType.DRUG_USER:
            item = {
                "status": pick(("社区戒毒", "社区康复", "戒断三年未复吸"), x),
                "substance": pick(("冰毒", "海洛因", "氯胺酮"), y),
            }
        else:  # key youth
            item = {
                "category": pick(
                    ("闲散青少年", "有不良行为青少年", "流浪乞讨未成年人", "服刑人员未成年子女"), x
                ),
                "in_school": bool(a < 16 or y < 0.3),
            }
        out.append(item)
    return out


# --------------------------------------------------------------------------- writing


def _people_scale(name: str) -> PeopleScale:
    if name not in PEOPLE_SCALES or name not in SCALES:
        raise DemoPeopleError(f"unknown scale {name!r}; choose demo or city")
    return PEOPLE_SCALES[name]


def _reserve_ids(session: Session, table: str, n: int) -> IntArray:
    """`n` fresh ids from the table's id sequence (ascending), safe beside concurrent inserts."""
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    sequence = session.execute(
        text("SELECT pg_get_serial_sequence(:table, 'id')"), {"table": table}
    ).scalar_one()
    low, high = session.execute(
        text(
            "SELECT min(v), max(v) FROM (SELECT nextval(CAST(:sequence AS regclass)) AS v "
            "FROM generate_series(1, :n)) s"
        ),
        {"sequence": sequence, "n": n},
    ).one()
    if high - low + 1 == n:  # the usual case: nobody else drew from the sequence meanwhile
        return np.arange(low, high + 1, dtype=np.int64)
    ids = session.execute(
        text("SELECT nextval(CAST(:sequence AS regclass)) FROM generate_series(1, :n)"),
        {"sequence": sequence, "n": n},
    ).scalars()
    return np.sort(np.fromiter(ids, dtype=np.int64, count=n))


def _copy(
    session: Session,
    table: str,
    columns: Sequence[str],
    total: int,
    batch_rows: Callable[[int, int], Iterable[Sequence[Any]]],
    on_progress: Progress | None,
    stage: str | None = None,
) -> int:
    """COPY `total` rows made batch by batch by `batch_rows(start, stop)` into `table`.

    Values must be CSV-ready: str, int, float, bool or None (NULL); bytea as '\\x…' hex.
    """
    stage = stage or table
    cursor = session.connection().connection.cursor()
    statement = (
        sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv)")
        .format(sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns)))
        .as_string(cursor)
    )

    def build(start: int) -> io.StringIO:
        buffer = io.StringIO()
        csv.writer(buffer).writerows(batch_rows(start, min(total, start + _BATCH)))
        buffer.seek(0)
        return buffer

    if on_progress:
        on_progress(stage, 0, total)
    # The next batch is encrypted and formatted in a thread while the server ingests this
    # one (psycopg2 releases the GIL while it waits on the server).
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(build, 0)
        for start in range(0, total, _BATCH):
            buffer = pending.result()
            if start + _BATCH < total:
                pending = pool.submit(build, start + _BATCH)
            cursor.copy_expert(statement, buffer)
            if on_progress:
                on_progress(stage, min(total, start + _BATCH), total)
    return total


def _opt_dates(values: Array) -> list[str | None]:
    text_ = _as_dates(values)
    return [None if t == "NaT" else t for t in text_.tolist()]


def _blank_none(values: Array) -> list[Any]:
    return [v if v != "" else None for v in values.tolist()]


def _hex(blob: bytes) -> str:
    return "\\x" + blob.hex()


def _count_present(session: Session, codes: Sequence[str]) -> dict[str, int]:
    """What the districts already hold."""
    row = session.execute(
        text(
            "SELECT (SELECT count(*) FROM resident WHERE district_code = ANY(:codes)),"
            " (SELECT count(*) FROM resident WHERE district_code = ANY(:codes)"
            "   AND residence_type = 'floating'),"
            " (SELECT count(*) FROM household WHERE district_code = ANY(:codes)),"
            " (SELECT count(*) FROM residence s JOIN resident r ON r.id = s.resident_id"
            "   WHERE r.district_code = ANY(:codes)),"
            " (SELECT count(*) FROM special_group s JOIN resident r ON r.id = s.resident_id"
            "   WHERE r.district_code = ANY(:codes)),"
            " (SELECT count(*) FROM organisation WHERE district_code = ANY(:codes)),"
            " (SELECT count(*) FROM staff WHERE username = ANY(:demo) OR id IN (SELECT"
            "   s.staff_id FROM staff_grid s JOIN grid g ON g.code = s.grid_code"
            "   WHERE g.district_code = ANY(:codes)))"
        ),
        {"codes": list(codes), "demo": [a.username for a in DEMO_ACCOUNTS]},
    ).one()
    keys = ("residents", "floating", "households", "residences", "special_groups")
    return dict(zip((*keys, "organisations", "staff"), map(int, row), strict=True))


def _name_ids(session: Session, query: str, **params: Any) -> dict[str, int]:
    """{name: id} from a two-column query."""
    return {str(name): int(i) for name, i in session.execute(text(query), params)}


def _demo_accounts(session: Session, frame: CityFrame) -> dict[str, int]:
    """Create the named demo logins that do not exist yet; returns username → staff id."""
    first = str(frame.grid_code[0])
    other_street = [str(c) for c in frame.grid_code if str(c)[:9] != first[:9]]
    second = (
        other_street[0] if other_street else str(frame.grid_code[min(1, len(frame.grid_code) - 1)])
    )
    scope: dict[str, dict[str, Any]] = {
        "admin": {},
        "leader": {"area_code": XILING_AREA},
        "command": {"area_code": XILING_AREA},
        "worker1": {"grid_codes": [first]},
        "worker2": {"grid_codes": [second]},
        "inspector1": {"area_code": XILING_AREA},
    }
    existing = _name_ids(
        session,
        "SELECT username, id FROM staff WHERE username = ANY(:names)",
        names=[a.username for a in DEMO_ACCOUNTS],
    )
    ids: dict[str, int] = {}
    for account in DEMO_ACCOUNTS:
        if account.username in existing:
            ids[account.username] = int(existing[account.username])
            continue
        actor = create_staff(
            session,
            username=account.username,
            password=DEMO_PASSWORD,
            full_name=account.full_name,
            role=account.role,
            **scope[account.username],
        )
        ids[account.username] = actor.staff_id
    return ids


def _grid_workers(
    session: Session,
    frame: CityFrame,
    *,
    rng: np.random.Generator,
    can_log_in: bool,
    on_progress: Progress | None,
) -> tuple[list[list[int]], int]:
    """One or two grid workers per grid (bulk COPY); returns staff ids per grid and the count.

    worker1/worker2 are the first workers of their grids. All bulk accounts share one argon2
    hash: of the demo password where bulk logins are wanted, else of a random secret.
    """
    grids = [str(c) for c in frame.grid_code]
    demo_grid = _name_ids(
        session,
        "SELECT sg.grid_code, sg.staff_id FROM staff_grid sg JOIN staff s ON s.id = sg.staff_id "
        "WHERE s.username IN ('worker1', 'worker2')",
    )
    second = rng.random(len(grids)) < 0.35
    usernames: list[str] = []
    grid_of: list[int] = []
    for i, code in enumerate(grids):
        if code not in demo_grid:
            usernames.append(f"gw{code}")
            grid_of.append(i)
        if second[i]:
            usernames.append(f"gw{code}-2")
            grid_of.append(i)
    existing = _name_ids(
        session, "SELECT username, id FROM staff WHERE username = ANY(:names)", names=usernames
    )
    new = [j for j, u in enumerate(usernames) if u not in existing]
    ids = _reserve_ids(session, "staff", len(new))
    staff_id = {u: int(existing[u]) for u in existing}
    staff_id.update({usernames[j]: int(i) for j, i in zip(new, ids.tolist(), strict=True)})
    password = DEMO_PASSWORD if can_log_in else secrets.token_urlsafe(32)
    password_hash = hash_password(password)
    years = rng.integers(1970, 2001, len(new))
    male = rng.random(len(new)) < 0.45
    names = _chinese_names(rng, male, years).tolist()
    phones = _mobiles(rng, len(new)).astype(str).tolist()
    role = StaffRole.GRID_WORKER.value
    _copy(
        session,
        "staff",
        ("id", "username", "full_name", "password_hash", "role", "phone", "active"),
        len(new),
        lambda a, b: (
            (int(ids[k]), usernames[new[k]], names[k], password_hash, role, phones[k], "t")
            for k in range(a, b)
        ),
        on_progress,
    )
    _copy(
        session,
        "staff_grid",
        ("staff_id", "grid_code"),
        len(new),
        lambda a, b: ((int(ids[k]), grids[grid_of[new[k]]]) for k in range(a, b)),
        on_progress,
    )
    workers: list[list[int]] = [[] for _ in grids]
    for code, sid in demo_grid.items():
        index = int(np.searchsorted(frame.grid_code, code))
        if index < len(grids) and grids[index] == code:
            workers[index].append(int(sid))
    for username, g in zip(usernames, grid_of, strict=True):
        workers[g].append(staff_id[username])
    return workers, len(new)


def _visit_intervals(session: Session) -> dict[tuple[str, int], int]:
    rows = session.execute(
        text("SELECT group_type::text, min_danger_level, interval_days FROM visit_interval")
    )
    return {(str(g), int(lvl)): int(days) for g, lvl, days in rows}


def seed_demo_people(
    session: Session,
    *,
    scale: str = "demo",
    seed: int = DEFAULT_SEED,
    on_progress: Progress | None = None,
    today: date | None = None,
) -> PeopleSeedSummary:
    """Write residents, households, special groups, organisations and staff for the demo city.

    Needs the demo city of `scale` (grid.demo.seed_demo_city) in the database. Runs in the
    session's transaction and never commits. When the scale's districts already have residents,
    nothing is written and the summary counts what is there (`already_present=True`).
    `on_progress(stage, done, total)` reports "generate" and then each table as it is copied.
    """
    spec = _people_scale(scale)
    codes = SCALES[scale].district_codes
    today = today or local_today()
    session.flush()
    if session.execute(
        text("SELECT EXISTS (SELECT 1 FROM resident WHERE district_code = ANY(:codes))"),
        {"codes": list(codes)},
    ).scalar_one():
        return PeopleSeedSummary(
            scale=scale, seed=seed, already_present=True, **_count_present(session, codes)
        )
    frame = load_city_frame(session, district_codes=codes)
    if len(frame.grid_code) == 0 or len(frame.house_id) == 0:
        raise DemoPeopleError(
            f"the demo city for scale '{scale}' is not in the database (no grids or houses in "
            f"districts {', '.join(codes)}); seed it first with `gridgov seed {scale}` "
            "(grid.demo.seed_demo_city), then seed its people"
        )
    if on_progress:
        on_progress("generate", 0, 1)
    demo_ids = _demo_accounts(session, frame)
    workers, n_staff = _grid_workers(
        session,
        frame,
        rng=np.random.default_rng([seed, 7_100]),
        can_log_in=spec.bulk_workers_can_log_in,
        on_progress=on_progress,
    )
    people = generate_people(
        frame,
        scale=scale,
        seed=seed,
        today=today,
        visit_intervals=_visit_intervals(session),
        workers_of_grid=workers,
    )
    if on_progress:
        on_progress("generate", 1, 1)
    org_ids = _write_organisations(session, frame, people, on_progress)
    counts = _write_people(session, frame, people, on_progress)
    for table in ("staff", "staff_grid", "organisation", "household", "resident", "residence"):
        session.execute(text(f"ANALYZE {table}"))
    session.execute(text("ANALYZE special_group"))
    session.expire_all()
    return PeopleSeedSummary(
        scale=scale,
        seed=seed,
        residents=people.residents,
        floating=int((people.residence_type == ResidenceType.FLOATING.value).sum()),
        households=len(people.hh_size),
        residences=counts["residences"],
        special_groups=len(people.sg_person),
        organisations=len(org_ids),
        staff=n_staff + len(demo_ids),
        already_present=False,
    )


def _write_organisations(
    session: Session, frame: CityFrame, people: DemoPeople, on_progress: Progress | None
) -> IntArray:
    """COPY the organisations; returns their ids."""
    n = len(people.org_building)
    ids = _reserve_ids(session, "organisation", n)
    cipher = get_cipher()
    b = people.org_building
    grid = frame.grid_code[frame.building_grid[b]].tolist()
    points = shapely.points(frame.building_x[b], frame.building_y[b])
    geom = shapely.to_wkb(
        shapely.set_srid(points, STORAGE_SRID), hex=True, include_srid=True
    ).tolist()
    address = frame.building_address[b].tolist()
    kinds = [_ORG_KINDS[k] for k in people.org_kind.tolist()]
    region = [g[:6] for g in grid]
    codes = [
        make_credit_code(r, s, authority=k.authority[0], kind=k.authority[1])
        for r, s, k in zip(region, people.org_sequence.tolist(), kinds, strict=True)
    ]
    names = people.org_name.tolist()
    legal = people.org_legal.tolist()
    responsible = people.org_responsible.tolist()
    staff = people.org_staff.tolist()
    fire = people.org_fire.tolist()
    security = people.org_security.tolist()

    def rows(a: int, z: int) -> Iterable[Sequence[Any]]:
        for i in range(a, z):
            phone = people.org_phone[i]
            yield (
                int(ids[i]),
                codes[i],
                names[i],
                kinds[i].org_type.value,
                address[i],
                int(frame.building_id[b[i]]),
                grid[i],
                region[i],
                legal[i],
                responsible[i],
                _hex(cipher.encrypt(phone, context=ORGANISATION_PHONE_CONTEXT)),
                mask_phone(phone),
                staff[i],
                fire[i],
                security[i],
                geom[i],
            )

    _copy(
        session,
        "organisation",
        (
            "id",
            "credit_code",
            "name",
            "org_type",
            "address",
            "building_id",
            "grid_code",
            "district_code",
            "legal_representative",
            "responsible_person",
            "responsible_phone_enc",
            "responsible_phone_masked",
            "staff_count",
            "fire_key_unit",
            "security_key_unit",
            "geom",
        ),
        n,
        rows,
        on_progress,
        "organisations",
    )
    return ids


def _write_people(
    session: Session,
    frame: CityFrame,
    people: DemoPeople,
    on_progress: Progress | None,
) -> dict[str, int]:
    """COPY households, residents, residences and special groups; then set household heads."""
    n_hh, n = len(people.hh_size), people.residents
    hh_ids = _reserve_ids(session, "household", n_hh)
    person_ids = _reserve_ids(session, "resident", n)
    house = people.hh_house
    building = frame.house_building[house]
    grid_index = frame.building_grid[building]
    hh_grid = frame.grid_code[grid_index]
    hh_district = np.array([g[:6] for g in frame.grid_code])[grid_index]
    hh_address = np.strings.add(
        np.strings.add(frame.building_address[building], frame.house_unit[house]),
        np.strings.add(np.strings.add("单元", frame.house_room[house]), "室"),
    )
    # 户号: grid code + running number within the grid.
    order_in_grid = np.arange(n_hh) - np.searchsorted(hh_grid, hh_grid)
    hh_code = np.strings.add(
        np.strings.add("H", hh_grid), np.strings.zfill((order_in_grid + 1).astype(str), 4)
    )
    hh_house_id = frame.house_id[house]

    def household_rows(a: int, z: int) -> Iterable[Sequence[Any]]:
        return zip(
            hh_ids[a:z].tolist(),
            hh_code[a:z].tolist(),
            hh_house_id[a:z].tolist(),
            hh_address[a:z].tolist(),
            hh_grid[a:z].tolist(),
            hh_district[a:z].tolist(),
            strict=True,
        )

    _copy(
        session,
        "household",
        ("id", "code", "house_id", "address", "grid_code", "district_code"),
        n_hh,
        household_rows,
        on_progress,
        "households",
    )

    cipher = get_cipher()
    hh = people.household
    relation = np.array(_RELATIONS)
    ethnicity = np.array(_ETHNICITIES)
    education = np.array((*_EDUCATION, ""))
    reasons = np.array((*_ARRIVAL_REASONS, ""))
    registered_address = np.where(
        people.residence_type == ResidenceType.REGISTERED.value,
        np.strings.add("湖北省宜昌市", hh_address[hh]),
        "",
    )
    native = np.where(people.region >= 0, _REGION_NATIVE[people.region.clip(0)], "")
    village = np.array(_VILLAGES)[(people.household * 7 + 3) % len(_VILLAGES)]
    floating = people.residence_type == ResidenceType.FLOATING.value
    registered_address = np.where(
        floating,
        np.strings.add(np.strings.add(people.origin.astype(str), village), "村"),
        registered_address,
    )
    org_names = people.org_name
    doc_kinds = {t.value: t for t in DocumentType}
    person_house_id = hh_house_id[hh]
    person_grid = hh_grid[hh]
    person_district = hh_district[hh]

    def resident_rows(a: int, z: int) -> Iterable[Sequence[Any]]:
        numbers = people.doc_number[a:z].tolist()
        kinds = people.doc_type[a:z].tolist()
        phones = people.phone[a:z]
        masked_phones = _masked_mobiles(np.where(phones == b"", b"00000000000", phones))
        ids_card = np.isin(
            people.doc_type[a:z],
            (
                DocumentType.ID_CARD.value,
                DocumentType.HK_MACAU_RESIDENCE.value,
                DocumentType.TAIWAN_RESIDENCE.value,
            ),
        )
        employer = people.employer[a:z]
        columns = zip(
            person_ids[a:z].tolist(),
            kinds,
            numbers,
            people.name[a:z].tolist(),
            np.where(people.male[a:z], Sex.MALE.value, Sex.FEMALE.value).tolist(),
            _as_dates(people.birth[a:z]).tolist(),
            ethnicity[people.ethnicity[a:z]].tolist(),
            _blank_none(native[a:z]),
            _blank_none(registered_address[a:z]),
            phones.tolist(),
            masked_phones.astype(str).tolist(),
            _blank_none(education[people.education[a:z]]),
            _blank_none(people.occupation[a:z]),
            [org_names[e] if e >= 0 else None for e in employer.tolist()],
            _blank_none(people.marital[a:z]),
            people.political[a:z].tolist(),
            people.residence_type[a:z].tolist(),
            _blank_none(people.origin[a:z]),
            _opt_dates(people.arrival[a:z]),
            _blank_none(reasons[people.arrival_reason[a:z]]),
            _blank_none(people.permit_number[a:z]),
            _opt_dates(people.permit_expiry[a:z]),
            hh_ids[hh[a:z]].tolist(),
            relation[people.relation[a:z]].tolist(),
            person_house_id[a:z].tolist(),
            person_grid[a:z].tolist(),
            person_district[a:z].tolist(),
            ids_card.tolist(),
            strict=True,
        )
        for (
            pid,
            kind,
            number,
            name,
            sex,
            birth,
            eth,
            nat,
            reg,
            phone,
            phone_mask,
            edu,
            job,
            emp,
            marital,
            political,
            rtype,
            origin,
            arrival,
            reason,
            permit,
            expiry,
            hid,
            rel,
            house_id,
            grid,
            district,
            gb,
        ) in columns:
            doc_hash = document_hash(doc_kinds[kind], number)
            yield (
                pid,
                kind,
                _hex(cipher.encrypt(number, context=DOC_CONTEXT)),
                _hex(doc_hash),
                number[:6] + "*" * 11 + number[-1:] if gb else mask_id_number(number),
                name,
                sex,
                birth,
                eth,
                nat,
                reg,
                _hex(cipher.encrypt(phone.decode(), context=PHONE_CONTEXT)) if phone else None,
                phone_mask if phone else None,
                edu,
                job,
                emp,
                marital,
                political,
                rtype,
                origin,
                arrival,
                reason,
                permit,
                expiry,
                hid,
                rel,
                house_id,
                grid,
                district,
                "t",
            )

    _copy(
        session,
        "resident",
        (
            "id",
            "doc_type",
            "doc_enc",
            "doc_hash",
            "doc_masked",
            "name",
            "sex",
            "birth_date",
            "ethnicity",
            "native_place",
            "registered_address",
            "phone_enc",
            "phone_masked",
            "education",
            "occupation",
            "employer",
            "marital_status",
            "political_status",
            "residence_type",
            "origin",
            "arrival_date",
            "arrival_reason",
            "permit_number",
            "permit_expiry",
            "household_id",
            "relation_to_head",
            "house_id",
            "grid_code",
            "district_code",
            "active",
        ),
        n,
        resident_rows,
        on_progress,
        "residents",
    )

    # Residences: the earlier, closed stays first, then one open stay per person.
    n_prev = len(people.prev_person)
    born_here = people.moved_in == people.birth
    rented = frame.house_use[house][hh] == "rented"
    current_reason = np.where(
        born_here,
        "出生",
        np.where(
            floating | rented, "租住", np.where(people.relation == HEAD, "购房入住", "随户迁入")
        ),
    )
    prev_house_id = frame.house_id[people.prev_house]
    prev_in = _as_dates(people.prev_moved_in).tolist()
    prev_out = _as_dates(people.moved_in[people.prev_person]).tolist()
    moved_in = _as_dates(people.moved_in).tolist()

    def residence_rows(a: int, z: int) -> Iterable[Sequence[Any]]:
        for i in range(a, z):
            if i < n_prev:
                p = int(people.prev_person[i])
                yield (int(person_ids[p]), int(prev_house_id[i]), prev_in[i], prev_out[i], "迁出")
            else:
                p = i - n_prev
                yield (
                    int(person_ids[p]),
                    int(person_house_id[p]),
                    moved_in[p],
                    None,
                    str(current_reason[p]),
                )

    _copy(
        session,
        "residence",
        ("resident_id", "house_id", "moved_in", "moved_out", "reason"),
        n_prev + n,
        residence_rows,
        on_progress,
        "residences",
    )

    # Special groups.
    sg = people.sg_person
    due = np.where(
        np.isnat(people.sg_last_visit),
        people.sg_started + _days(people.sg_interval),
        people.sg_last_visit + _days(people.sg_interval),
    )
    details = [json.dumps(d, ensure_ascii=False) for d in people.sg_details]
    responsible = people.extras["responsible"]

    def group_rows(a: int, z: int) -> Iterable[Sequence[Any]]:
        return zip(
            person_ids[sg[a:z]].tolist(),
            people.sg_type[a:z].tolist(),
            details[a:z],
            [d if d >= 0 else None for d in people.sg_danger[a:z].tolist()],
            _as_dates(people.sg_started[a:z]).tolist(),
            people.sg_interval[a:z].tolist(),
            _opt_dates(people.sg_last_visit[a:z]),
            _as_dates(due[a:z]).tolist(),
            [r if r >= 0 else None for r in responsible[a:z].tolist()],
            strict=True,
        )

    _copy(
        session,
        "special_group",
        (
            "resident_id",
            "group_type",
            "details",
            "danger_level",
            "started_on",
            "visit_interval_days",
            "last_visit_on",
            "next_visit_due",
            "responsible_staff_id",
        ),
        len(sg),
        group_rows,
        on_progress,
        "special_groups",
    )

    # Household heads, now that both sides exist.
    heads = np.flatnonzero(people.relation == HEAD)
    if on_progress:
        on_progress("household_heads", 0, n_hh)
    session.execute(
        text(
            "UPDATE household h SET head_id = t.head FROM unnest(CAST(:ids AS integer[]), "
            "CAST(:heads AS integer[])) AS t(id, head) WHERE h.id = t.id"
        ),
        {"ids": hh_ids[hh[heads]].tolist(), "heads": person_ids[heads].tolist()},
    )
    if on_progress:
        on_progress("household_heads", n_hh, n_hh)
    return {"residences": n_prev + n}
