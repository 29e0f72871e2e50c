"""Vocabularies of the demo population: names, origins, households, jobs, organisations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np

from demo.arrays import FloatArray
from people.models import OrganisationType, SpecialGroupType

# --------------------------------------------------------------------------- vocabularies


def words(text_: str) -> tuple[str, ...]:
    return tuple(text_.split())


# Surnames with their share (‰) in the 2020 household-registration count, with the names
# common in western Hubei (覃 向 谭 田 望 of the Tujia) weighted up for Yichang.
_SURNAMES: Final = words(
    "王 71 李 70 张 67 刘 51 陈 46 杨 32 黄 24 赵 22 吴 20 周 19 徐 16 孙 15 马 14 朱 14 "
    "胡 16 郭 11 何 11 林 8 高 10 罗 10 郑 9 梁 9 谢 8 宋 8 唐 8 许 7 韩 7 冯 7 邓 9 曹 7 "
    "彭 8 曾 6 肖 7 田 10 董 6 袁 6 潘 5 于 5 蒋 5 蔡 5 余 7 杜 5 叶 5 程 5 苏 4 魏 4 吕 4 "
    "丁 4 任 4 沈 4 姚 4 卢 4 姜 4 崔 4 钟 4 谭 9 陆 3 汪 4 范 3 金 3 石 3 廖 3 贾 3 夏 3 "
    "韦 3 付 3 方 3 白 2 邹 3 孟 2 熊 5 秦 2 邱 2 江 3 尹 2 薛 2 闫 2 段 2 雷 3 侯 2 龙 2 "
    "史 2 陶 2 黎 2 贺 2 顾 2 毛 2 郝 1 龚 2 邵 1 万 2 钱 1 严 1 覃 6 武 1 戴 1 莫 1 孔 1 "
    "向 6 汤 1 望 2 欧阳 1 司马 0.2 诸葛 0.1"
)
SURNAME: Final = np.array(_SURNAMES[0::2])
SURNAME_P: Final = np.array([float(w) for w in _SURNAMES[1::2]]) / sum(
    float(w) for w in _SURNAMES[1::2]
)

# Given-name characters by sex and by the era a person was born in (≤1965, 1966–94, 1995–).
GIVEN: Final = {
    (True, 0): words(
        "建 国 华 军 明 伟 强 平 刚 勇 斌 林 峰 志 文 海 东 波 辉 涛 兵 新 春 德 福 生 祥 忠 安 "
        "民 荣 金 山 成 永 清 庆 洪 才"
    ),
    (True, 1): words(
        "伟 磊 勇 军 杰 涛 斌 超 明 刚 鹏 辉 波 亮 俊 峰 强 飞 健 凯 龙 宁 鑫 浩 林 敏 宇 帅 兵 "
        "旭 晖 锋 剑 毅 江 坤 晨 阳"
    ),
    (True, 2): words(
        "浩 宇 轩 睿 泽 子 梓 一 晨 昊 辰 航 旭 阳 宸 铭 皓 然 天 煜 逸 嘉 奕 博 文 俊 杰 哲 翔 "
        "瑞 明 熙 烨 锦 霖 诚 宁 安 亦 沐"
    ),
    (False, 0): words(
        "秀 英 兰 芳 珍 桂 玉 梅 凤 华 红 霞 丽 琴 萍 素 淑 翠 云 莲 娥 芬 菊 香 荣 春 美 金 银 爱"
    ),
    (False, 1): words(
        "丽 芳 敏 静 艳 娟 霞 燕 玲 红 萍 婷 娜 洁 琳 雪 慧 倩 颖 晶 琴 莉 丹 蓉 梅 薇 佳 莹 露 妮"
    ),
    (False, 2): words(
        "欣 怡 佳 雨 涵 萱 诗 梦 思 晨 悦 可 馨 琪 瑶 妍 彤 语 子 梓 若 依 蕾 一 诺 汐 芮 媛 璐 艺"
    ),
}
SINGLE_CHAR_NAME_P: Final = (0.30, 0.22, 0.08)  # by era

FOREIGN_NAMES: Final = {
    True: words(
        "金敏俊 朴志勋 李承宇 田中一郎 铃木健太 约翰·史密斯 迈克尔·布朗 大卫·威尔逊 "
        "阮文雄 伊万·彼得罗夫 托马斯·穆勒 阿里·汗"
    ),
    False: words(
        "李秀贤 崔允儿 金智妍 佐藤美咲 高桥由美 玛丽·约翰逊 艾米丽·戴维斯 安娜·伊万诺娃 "
        "阮氏梅 索菲·马丁 劳拉·施密特 萨拉·阿米尔"
    ),
}
NATIONALITIES: Final = (
    ("韩国", "M", 3.0),
    ("日本", "TK", 2.0),
    ("美国", "5", 2.0),
    ("英国", "1", 1.0),
    ("德国", "C", 1.0),
    ("俄罗斯", "7", 1.0),
    ("越南", "B", 1.0),
    ("巴基斯坦", "AB", 1.0),
)

ETHNICITIES: Final = ("汉族", "土家族", "回族", "苗族", "满族", "蒙古族", "壮族", "侗族")
ETHNICITY_P: Final = np.array([0.885, 0.09, 0.006, 0.006, 0.004, 0.003, 0.003, 0.003])

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
REGION_CODE: Final = np.array([int(r[0]) for r in _REGIONS], dtype=np.int64)
REGION_NAME: Final = np.array([r[1] for r in _REGIONS])
REGION_NATIVE: Final = np.array([r[2] for r in _REGIONS])
ORIGIN_P: Final = np.array([r[3] for r in _REGIONS]) / sum(r[3] for r in _REGIONS)
FALLBACK_ORIGIN: Final = [r[0] for r in _REGIONS].index("422801")
VILLAGES: Final = words("茶园 桃园 柳树 石桥 枫林 竹园 河口 青山 白果 黄土 龙潭 响水 高峰 梨子")

MOBILE_PREFIXES: Final = words(
    "130 131 132 133 134 135 136 137 138 139 147 150 151 152 153 155 156 157 158 159 166 "
    "173 175 176 177 178 180 181 182 183 185 186 187 188 189 191 198 199"
)

# Household compositions. Relations: 0 户主, 1 配偶, 2 子女, 3 父母, 4 其他.
RELATIONS: Final = ("户主", "配偶", "子女", "父母", "其他")
HEAD, SPOUSE, CHILD, PARENT, OTHER = range(5)
# (members, weight within its size, head age range, share of male heads)
TEMPLATES: Final = (
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
SIZE_P: Final = np.array([0.25, 0.30, 0.21, 0.13, 0.11])

FLOATING_SHARE: Final = 0.25
OVERSEAS_SHARE: Final = 0.002
UNREGISTERED_SHARE: Final = 0.003
PREVIOUS_RESIDENCE_SHARE: Final = 0.05
OVERDUE_SHARE: Final = 0.10

EDUCATION: Final = (
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
EDUCATION_P: Final = np.array(
    [
        [0.06, 0.30, 0.22, 0.15, 0.10, 0.15, 0.02, 0.00],
        [0.03, 0.15, 0.17, 0.20, 0.10, 0.30, 0.05, 0.00],
        [0.00, 0.06, 0.08, 0.22, 0.08, 0.38, 0.15, 0.03],
        [0.00, 0.03, 0.04, 0.11, 0.04, 0.28, 0.35, 0.15],
    ]
)
JOBS: Final = (
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
JOB_P_REGISTERED: Final = np.array(
    [0.34, 0.12, 0.04, 0.08, 0.04, 0.03, 0.08, 0.12, 0.08, 0.06, 0.0, 0.0, 0.005, 0.005]
)
JOB_P_FLOATING: Final = np.array(
    [0.14, 0.12, 0.0, 0.01, 0.01, 0.01, 0.05, 0.12, 0.06, 0.03, 0.25, 0.10, 0.06, 0.04]
)
# Which organisation kind employs people of each job (index into _ORG_KINDS names).
JOB_EMPLOYER: Final = {
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
ARRIVAL_REASONS: Final = ("务工", "经商", "求学", "投亲")

# --------------------------------------------------------------------------- special groups

GROUP_RATES: Final = {
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
DANGER_P: Final = np.array([0.45, 0.25, 0.15, 0.09, 0.05, 0.01])
OFFENCES: Final = words("盗窃 诈骗 故意伤害 寻衅滋事 危险驾驶 开设赌场 交通肇事 非法经营")

# --------------------------------------------------------------------------- organisations


@dataclass(frozen=True)
class OrgKind:
    name: str
    org_type: OrganisationType
    patterns: tuple[str, ...]  # {tn} trade name, {district} / {community} / {street} names
    staff: tuple[int, int]
    fire: float  # relative chance of being a 消防重点单位
    security: float  # relative chance of being a 治安重点单位
    authority: str = "91"  # GB 32100 registration authority + organisation type


ORG_KINDS: Final = (
    OrgKind(
        "商贸公司",
        OrganisationType.ENTERPRISE,
        ("宜昌市{district}{tn}商贸有限公司", "宜昌{tn}贸易有限公司"),
        (3, 60),
        0.3,
        0.1,
    ),
    OrgKind(
        "科技公司",
        OrganisationType.ENTERPRISE,
        ("湖北{tn}科技有限公司", "宜昌{tn}信息技术有限公司"),
        (5, 200),
        0.3,
        0.1,
    ),
    OrgKind(
        "建筑公司", OrganisationType.ENTERPRISE, ("宜昌{tn}建筑工程有限公司",), (10, 300), 0.5, 0.2
    ),
    OrgKind(
        "物业公司", OrganisationType.ENTERPRISE, ("宜昌{tn}物业服务有限公司",), (5, 120), 0.3, 0.2
    ),
    OrgKind(
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
    OrgKind("物流公司", OrganisationType.ENTERPRISE, ("宜昌{tn}物流有限公司",), (5, 150), 1.5, 0.3),
    OrgKind("超市", OrganisationType.SHOP, ("{tn}超市", "{tn}购物广场"), (3, 80), 1.5, 0.5),
    OrgKind("便利店", OrganisationType.SHOP, ("{tn}便利店",), (1, 6), 0.1, 0.1),
    OrgKind(
        "餐馆",
        OrganisationType.INDIVIDUAL_BUSINESS,
        ("{tn}餐馆", "{tn}火锅店", "{tn}小吃店", "{tn}面馆"),
        (2, 25),
        0.8,
        0.1,
        "92",
    ),
    OrgKind(
        "美容美发店",
        OrganisationType.INDIVIDUAL_BUSINESS,
        ("{tn}美容美发店",),
        (1, 10),
        0.1,
        0.2,
        "92",
    ),
    OrgKind("药店", OrganisationType.SHOP, ("{tn}大药房",), (2, 12), 0.2, 0.1),
    OrgKind(
        "五金店", OrganisationType.INDIVIDUAL_BUSINESS, ("{tn}五金店",), (1, 6), 0.3, 0.1, "92"
    ),
    OrgKind("宾馆", OrganisationType.ENTERPRISE, ("{tn}宾馆", "{tn}大酒店"), (5, 120), 6.0, 6.0),
    OrgKind("KTV", OrganisationType.ENTERPRISE, ("{tn}KTV",), (5, 40), 8.0, 8.0),
    OrgKind("网吧", OrganisationType.INDIVIDUAL_BUSINESS, ("{tn}网吧",), (2, 10), 5.0, 5.0, "92"),
    OrgKind(
        "银行",
        OrganisationType.ENTERPRISE,
        ("中国工商银行宜昌{tn}支行", "中国建设银行宜昌{tn}支行", "湖北银行宜昌{tn}支行"),
        (8, 40),
        2.0,
        10.0,
    ),
    OrgKind("农贸市场", OrganisationType.ENTERPRISE, ("{tn}农贸市场",), (10, 80), 6.0, 4.0),
    OrgKind(
        "诊所", OrganisationType.HOSPITAL, ("{tn}诊所", "{tn}口腔诊所"), (2, 12), 0.5, 0.5, "52"
    ),
    OrgKind(
        "医院",
        OrganisationType.HOSPITAL,
        ("宜昌市{tn}医院", "{community}卫生服务中心"),
        (40, 1_200),
        10.0,
        10.0,
        "12",
    ),
    OrgKind(
        "小学", OrganisationType.SCHOOL, ("宜昌市{district}{tn}小学",), (30, 150), 10.0, 10.0, "12"
    ),
    OrgKind("中学", OrganisationType.SCHOOL, ("宜昌市{tn}中学",), (50, 250), 10.0, 10.0, "12"),
    OrgKind("幼儿园", OrganisationType.SCHOOL, ("{tn}幼儿园",), (10, 45), 10.0, 8.0, "52"),
    OrgKind(
        "培训学校", OrganisationType.SOCIAL_ORGANISATION, ("{tn}培训学校",), (3, 30), 1.0, 0.5, "52"
    ),
    OrgKind(
        "机关",
        OrganisationType.GOVERNMENT,
        ("{community}居民委员会", "{street}{office}"),
        (5, 40),
        1.0,
        1.0,
        "11",
    ),
    OrgKind(
        "社会组织",
        OrganisationType.SOCIAL_ORGANISATION,
        ("宜昌市{tn}协会", "{community}志愿者协会"),
        (1, 20),
        0.2,
        0.1,
        "51",
    ),
)
KIND_INDEX: Final = {k.name: i for i, k in enumerate(ORG_KINDS)}


def _mix(spec: str) -> FloatArray:
    """Probabilities over _ORG_KINDS from "kind:weight kind:weight …"."""
    p = np.zeros(len(ORG_KINDS))
    for item in spec.split():
        name, weight = item.split(":")
        p[KIND_INDEX[name]] = float(weight)
    return p / float(p.sum())


# Which kinds of organisation each building use houses, and how many per building.
USE_KINDS: Final = {
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
USE_ORG_WEIGHT: Final = {
    "commercial": 1.0,
    "mixed": 0.6,
    "office": 3.0,
    "public": 0.35,
    "industrial": 0.5,
}
# Dedicated grids (专属网格) override what their public/commercial buildings hold.
DEDICATED_KINDS: Final = {
    "学校": _mix("小学:45 中学:30 幼儿园:20 培训学校:5"),
    "医院": _mix("医院:60 诊所:25 药店:15"),
    "农贸市场": _mix("农贸市场:35 超市:15 餐馆:25 便利店:15 五金店:10"),
}
TRADE_CHARS: Final = words(
    "鑫 源 华 宇 宏 达 恒 信 金 鼎 盛 世 三 峡 夷 陵 江 天 成 东 方 瑞 丰 嘉 和 兴 隆 "
    "永 安 福 顺 利 民 新 佳 美 惠 康 泰 汇 通 博 远 志 诚 正 德 明 锦 绣 荣 昌 龙 凤 祥 "
    "云 海 宜 众 乐 旺 园"
)
FIRE_KEY_SHARE: Final = 0.05
SECURITY_KEY_SHARE: Final = 0.03
