"""Specification of the default event category table (事件分类) and its loader."""

from __future__ import annotations

from collections import Counter

import pytest

from events.catalog import (
    COLUMNS,
    TIERLESS_COLUMNS,
    CategorySpec,
    CategoryTableError,
    DepartmentType,
    Priority,
    Tier,
    load_default_categories,
    parse_limit,
    read_categories,
)

# The 19 dispute types of the 综治 矛盾纠纷排查调处 ledgers.
DISPUTE_TYPES = [
    "婚姻家庭纠纷",
    "邻里纠纷",
    "房屋宅基地纠纷",
    "合同纠纷",
    "生产经营纠纷",
    "损害赔偿纠纷",
    "山林土地纠纷",
    "征地拆迁纠纷",
    "环境污染纠纷",
    "劳动争议纠纷",
    "医疗纠纷",
    "物业纠纷",
    "道路交通事故纠纷",
    "消费纠纷",
    "村务管理纠纷",
    "涉法涉诉纠纷",
    "旅游纠纷",
    "知识产权纠纷",
    "其他纠纷",
]

# The table checks are written with tables from before tiers (still read: district, at once).
HEADER = ",".join(TIERLESS_COLUMNS)
GOOD_ROW = "0101,01,治安隐患,可疑人员,police,,high,1h,1d,1d,no,yes,yes,形迹可疑人员"


def table(*rows: str) -> str:
    """A category CSV with the standard header and `rows`."""
    return "\n".join([HEADER, *rows]) + "\n"


def problems_of(text: str) -> list[str]:
    """The problems read_categories reports for text; fails the test if the table is accepted."""
    with pytest.raises(CategoryTableError) as caught:
        read_categories(text, source="test.csv")
    return caught.value.problems


def spec(**changes: object) -> CategorySpec:
    """A valid category with `changes` applied."""
    fields: dict[str, object] = {
        "code": "0101",
        "major_code": "01",
        "major_name": "治安隐患",
        "name": "可疑人员",
        "lead": DepartmentType.POLICE,
        "assisting": (),
        "priority": Priority.HIGH,
        "sign_limit": "1h",
        "handle_limit": "1d",
        "verify_limit": "1d",
        "photo_required": False,
        "onsite_verification_required": True,
    }
    fields.update(changes)
    return CategorySpec(**fields)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def categories() -> list[CategorySpec]:
    return load_default_categories()


def by_name(categories: list[CategorySpec], name: str) -> CategorySpec:
    (found,) = [c for c in categories if c.name == name]
    return found


# The shipped table


def test_default_table_has_between_60_and_100_subcategories(categories: list[CategorySpec]) -> None:
    assert 60 <= len(categories) <= 100


def test_default_table_covers_every_major_category_of_the_design(
    categories: list[CategorySpec],
) -> None:
    majors = {c.major_name for c in categories}
    assert {
        "治安隐患",
        "消防隐患",
        "矛盾纠纷",
        "民生服务",
        "特殊人群",
        "市容环境",
        "宣传广告",
        "施工管理",
        "街面秩序",
        "公共设施",
        "突发事件",
    } <= majors


def test_codes_are_unique_and_start_with_their_major_code(categories: list[CategorySpec]) -> None:
    codes = [c.code for c in categories]
    assert len(codes) == len(set(codes))
    assert all(c.code[:2] == c.major_code for c in categories)


def test_each_major_code_has_one_name(categories: list[CategorySpec]) -> None:
    names_by_code: dict[str, set[str]] = {}
    for category in categories:
        names_by_code.setdefault(category.major_code, set()).add(category.major_name)
    assert all(len(names) == 1 for names in names_by_code.values())
    assert len({next(iter(n)) for n in names_by_code.values()}) == len(names_by_code)


def test_disputes_are_the_19_types_of_the_standard_led_by_justice(
    categories: list[CategorySpec],
) -> None:
    disputes = [c for c in categories if c.major_name == "矛盾纠纷"]
    assert [c.name for c in disputes] == DISPUTE_TYPES
    assert {c.lead for c in disputes} == {DepartmentType.JUSTICE}


def test_disputes_get_at_least_ten_working_days_to_mediate(categories: list[CategorySpec]) -> None:
    for dispute in (c for c in categories if c.major_name == "矛盾纠纷"):
        amount, unit = parse_limit(dispute.handle_limit)
        assert unit == "days" and amount >= 10, dispute.name


@pytest.mark.parametrize(
    ("name", "lead", "assisting"),
    [
        ("劳动争议纠纷", DepartmentType.JUSTICE, DepartmentType.HUMAN_RESOURCES),
        ("医疗纠纷", DepartmentType.JUSTICE, DepartmentType.HEALTH),
        ("消费纠纷", DepartmentType.JUSTICE, DepartmentType.MARKET_REGULATION),
        ("物业纠纷", DepartmentType.JUSTICE, DepartmentType.HOUSING),
        ("道路交通事故纠纷", DepartmentType.JUSTICE, DepartmentType.POLICE),
        ("楼道堆放杂物", DepartmentType.FIRE, DepartmentType.HOUSING),
        ("消防通道占用", DepartmentType.FIRE, DepartmentType.URBAN_MANAGEMENT),
        ("油烟扰民", DepartmentType.URBAN_MANAGEMENT, DepartmentType.ECOLOGY),
    ],
)
def test_subject_departments_assist_the_lead(
    categories: list[CategorySpec],
    name: str,
    lead: DepartmentType,
    assisting: DepartmentType,
) -> None:
    category = by_name(categories, name)
    assert category.lead is lead
    assert assisting in category.assisting


@pytest.mark.parametrize(
    ("major", "lead"),
    [
        ("治安隐患", DepartmentType.POLICE),
        ("消防隐患", DepartmentType.FIRE),
        ("宣传广告", DepartmentType.URBAN_MANAGEMENT),
    ],
)
def test_single_department_majors_are_led_by_that_department(
    categories: list[CategorySpec], major: str, lead: DepartmentType
) -> None:
    assert {c.lead for c in categories if c.major_name == major} == {lead}


@pytest.mark.parametrize(
    ("name", "lead"),
    [
        ("独居老人需帮扶", DepartmentType.CIVIL_AFFAIRS),
        ("流浪乞讨人员", DepartmentType.CIVIL_AFFAIRS),
        ("严重精神障碍患者肇事肇祸风险", DepartmentType.HEALTH),
        ("社区矫正对象脱管", DepartmentType.JUSTICE),
        ("吸毒人员异常", DepartmentType.POLICE),
        ("暴露垃圾", DepartmentType.URBAN_MANAGEMENT),
        ("占道经营", DepartmentType.URBAN_MANAGEMENT),
        ("乱停车", DepartmentType.POLICE),
        ("无证施工", DepartmentType.HOUSING),
        ("违章搭建", DepartmentType.URBAN_MANAGEMENT),
        ("井盖缺失或破损", DepartmentType.URBAN_MANAGEMENT),
        ("火灾", DepartmentType.FIRE),
        ("内涝积水", DepartmentType.EMERGENCY),
        ("群体性事件苗头", DepartmentType.POLICE),
    ],
)
def test_subcategories_go_to_the_department_that_handles_them(
    categories: list[CategorySpec], name: str, lead: DepartmentType
) -> None:
    assert by_name(categories, name).lead is lead


def test_no_category_is_led_or_assisted_by_the_command_centre(
    categories: list[CategorySpec],
) -> None:
    # The command centre is where unroutable cases fall back to, never a planned destination.
    assert all(DepartmentType.COMMAND_CENTRE not in c.departments for c in categories)


def test_emergencies_are_urgent_dispatched_without_a_prior_check_and_signed_within_half_an_hour(
    categories: list[CategorySpec],
) -> None:
    emergencies = [c for c in categories if c.major_name == "突发事件"]
    assert len(emergencies) >= 6
    for event in emergencies:
        assert event.priority is Priority.URGENT, event.name
        assert not event.needs_check, event.name
        assert parse_limit(event.sign_limit) == (0.5, "hours"), event.name
        amount, unit = parse_limit(event.handle_limit)
        assert unit == "hours" and amount <= 4, event.name


def test_only_emergencies_are_urgent(categories: list[CategorySpec]) -> None:
    urgent_majors = {c.major_name for c in categories if c.priority is Priority.URGENT}
    assert urgent_majors == {"突发事件"}


def test_city_appearance_facilities_and_fire_reports_need_a_photo(
    categories: list[CategorySpec],
) -> None:
    for category in categories:
        if category.major_name in {"市容环境", "公共设施", "消防隐患", "宣传广告", "施工管理"}:
            # Noise is the one thing a photo cannot show.
            assert category.photo_required or category.name == "噪声扰民", category.name


def test_people_centred_reports_need_no_photo(categories: list[CategorySpec]) -> None:
    for category in categories:
        if category.major_name in {"矛盾纠纷", "民生服务", "特殊人群", "治安隐患"}:
            assert not category.photo_required, category.name


def test_most_categories_are_verified_on_site(categories: list[CategorySpec]) -> None:
    onsite = sum(c.onsite_verification_required for c in categories)
    assert onsite / len(categories) > 0.75


def test_every_priority_and_the_main_departments_are_used(categories: list[CategorySpec]) -> None:
    assert {c.priority for c in categories} == set(Priority)
    leads = Counter(c.lead for c in categories)
    for department in (
        DepartmentType.POLICE,
        DepartmentType.FIRE,
        DepartmentType.CIVIL_AFFAIRS,
        DepartmentType.URBAN_MANAGEMENT,
        DepartmentType.HEALTH,
        DepartmentType.HUMAN_RESOURCES,
        DepartmentType.JUSTICE,
        DepartmentType.MARKET_REGULATION,
        DepartmentType.HOUSING,
        DepartmentType.EMERGENCY,
    ):
        assert leads[department] >= 1, department


def test_every_default_limit_parses_as_a_work_calendar_limit(
    categories: list[CategorySpec],
) -> None:
    calendar = pytest.importorskip("events.calendar")
    for category in categories:
        for text in (category.sign_limit, category.handle_limit, category.verify_limit):
            amount, unit = parse_limit(text)
            assert calendar.Limit.parse(text) == calendar.Limit(amount, calendar.LimitUnit(unit))


def test_loading_twice_gives_independent_lists() -> None:
    first = load_default_categories()
    first.clear()
    assert load_default_categories()


def test_full_name_joins_major_and_subcategory(categories: list[CategorySpec]) -> None:
    assert by_name(categories, "邻里纠纷").full_name == "矛盾纠纷/邻里纠纷"


# Department types and priorities


def test_department_types_parse_by_value_or_chinese_label() -> None:
    assert DepartmentType.parse("市场监管") is DepartmentType.MARKET_REGULATION
    assert DepartmentType.parse(" Police ") is DepartmentType.POLICE
    assert DepartmentType.COMMAND_CENTRE.label == "指挥中心"


def test_priorities_carry_their_chinese_labels() -> None:
    assert [p.label for p in Priority] == ["特急", "紧急", "一般", "较低"]


# Time limits


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2h", (2.0, "hours")),
        ("0.5h", (0.5, "hours")),
        ("3d", (3.0, "days")),
        (" 10 D ", (10.0, "days")),
        ("4 hours", (4.0, "hours")),
        ("2工作小时", (2.0, "hours")),
        ("3工作日", (3.0, "days")),
    ],
)
def test_limits_are_working_hours_or_days(text: str, expected: tuple[float, str]) -> None:
    assert parse_limit(text) == expected


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("3x", "is not a time limit"),
        ("", "is not a time limit"),
        ("h", "is not a time limit"),
        ("-2h", "is not a time limit"),
        ("0h", "must be positive"),
        ("1.5d", "not a whole number of days"),
    ],
)
def test_unreadable_limits_are_refused_with_a_hint(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_limit(text)


# One category


def test_an_urgent_category_with_a_slow_sign_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="signed for within 1h"):
        spec(priority=Priority.URGENT, sign_limit="2h", handle_limit="4h")


def test_an_urgent_category_handled_in_days_is_refused() -> None:
    with pytest.raises(ValueError, match="handled within 8h"):
        spec(priority=Priority.URGENT, sign_limit="0.5h", handle_limit="1d")


def test_a_code_must_start_with_its_major_code() -> None:
    with pytest.raises(ValueError, match="does not start with its major code 02"):
        spec(code="0101", major_code="02")


@pytest.mark.parametrize("code", ["101", "01a1", "0100", "01011"])
def test_a_code_is_four_digits_with_a_sequence_from_01(code: str) -> None:
    with pytest.raises(ValueError, match="must be 4 digits"):
        spec(code=code)


def test_the_lead_cannot_also_assist() -> None:
    with pytest.raises(ValueError, match="lead department police is also listed as assisting"):
        spec(assisting=(DepartmentType.POLICE,))


def test_a_bad_limit_names_its_stage() -> None:
    with pytest.raises(ValueError, match="verify_limit: 'soon' is not a time limit"):
        spec(verify_limit="soon")


def test_categories_need_a_check_by_default() -> None:
    assert spec().needs_check


# Reading a table


def test_a_table_with_comments_and_blank_lines_is_read() -> None:
    text = "# a deployment's table\n\n" + table(
        GOOD_ROW,
        "# disputes",
        "0301,03,矛盾纠纷,邻里纠纷,justice,police|住建,normal,2h,10d,2d,否,是,yes,",
    )
    first, second = read_categories(text)
    assert first.code == "0101" and first.priority is Priority.HIGH
    assert second.assisting == (DepartmentType.POLICE, DepartmentType.HOUSING)
    assert not second.photo_required and second.onsite_verification_required
    assert second.description == ""


def test_a_problem_names_the_line_and_the_row() -> None:
    (problem,) = problems_of(
        table(GOOD_ROW, GOOD_ROW.replace("0101", "0102").replace("police", "polise", 1))
    )
    assert problem.startswith("line 3 (0102 可疑人员):")
    assert "'polise' is not a known department type" in problem


def test_every_problem_of_a_table_is_reported_at_once() -> None:
    problems = problems_of(
        table(
            GOOD_ROW,
            GOOD_ROW,  # same code again
            "0201,02,消防隐患,楼道堆放杂物,fire,,normal,2h,3d,1d,maybe,yes,yes,",
            "0301,03,矛盾纠纷,邻里纠纷,justice,,urgent,2h,10d,2d,no,yes,yes,",
        )
    )
    assert len(problems) == 4
    assert "line 3 (0101 可疑人员): code 0101 is already used on line 2" in problems[0]
    assert "'可疑人员' is already a subcategory of 治安隐患 on line 2" in problems[1]
    assert "line 4 (0201 楼道堆放杂物): photo_required 'maybe' must be yes or no" in problems[2]
    assert "line 5 (0301 邻里纠纷): an urgent category must be signed for within 1h" in problems[3]


def test_a_major_code_with_two_names_is_refused() -> None:
    (problem,) = problems_of(
        table(
            GOOD_ROW,
            GOOD_ROW.replace("0101", "0102")
            .replace("可疑人员", "治安乱点")
            .replace("治安隐患", "治安问题"),
        )
    )
    assert "major code 01 is called '治安隐患' on line 2, not '治安问题'" in problem


def test_one_major_name_under_two_codes_is_refused() -> None:
    (problem,) = problems_of(
        table(GOOD_ROW, "0201,02,治安隐患,治安乱点,police,,normal,2h,3d,1d,no,yes,yes,")
    )
    assert "major category '治安隐患' has code 01 on line 2, not 02" in problem


def test_a_row_with_missing_cells_is_refused() -> None:
    (problem,) = problems_of(table("0101,01,治安隐患,可疑人员,police"))
    assert problem == "line 2: has 5 cells, the header has 14"


def test_a_wrong_header_says_which_columns_are_missing() -> None:
    (problem,) = problems_of(HEADER.replace(",needs_check", ",check") + "\n" + GOOD_ROW)
    assert "missing needs_check; unknown check" in problem


def test_an_empty_table_is_refused() -> None:
    assert problems_of("# nothing here\n") == ["the table is empty; it needs a header and rows"]
    assert problems_of(table()) == ["the table has a header but no categories"]


def test_the_error_message_lists_the_problems_under_the_file_name() -> None:
    with pytest.raises(CategoryTableError) as caught:
        read_categories(table("0101,01,治安隐患,可疑人员,police"), source="deploy.csv")
    assert str(caught.value).startswith("deploy.csv has 1 problem:\n  line 2:")


# -- tiers (分级流转) and 立案 by judgement -------------------------------------------------------


def tiered(row: str, start_tier: str, auto_register: str) -> str:
    """A table with the tier columns, `row` (14 cells before them) given them."""
    cells = row.split(",")
    return (
        ",".join(COLUMNS)
        + "\n"
        + ",".join([*cells[:13], start_tier, auto_register, *cells[13:]])
        + "\n"
    )


def test_a_tiered_table_reads_the_start_tier_and_auto_register() -> None:
    (category,) = read_categories(tiered(GOOD_ROW, "社区", "no"), source="test.csv")
    assert category.start_tier is Tier.COMMUNITY and category.auto_register is False
    (category,) = read_categories(tiered(GOOD_ROW, "street", "yes"), source="test.csv")
    assert category.start_tier is Tier.STREET and category.auto_register is True


def test_a_table_before_tiers_starts_at_the_district_and_registers_at_once() -> None:
    (category,) = read_categories(table(GOOD_ROW), source="test.csv")
    assert category.start_tier is Tier.DISTRICT and category.auto_register is True


def test_a_case_cannot_start_at_the_city_and_a_tier_must_be_known() -> None:
    (problem,) = problems_of(tiered(GOOD_ROW, "city", "yes"))
    assert "start_tier city: a case starts at community, street or district" in problem
    (problem,) = problems_of(tiered(GOOD_ROW, "village", "yes"))
    assert "'village' is not a known" in problem
    (problem,) = problems_of(tiered(GOOD_ROW, "street", "maybe"))
    assert "auto_register 'maybe' must be yes or no" in problem


def test_shipped_disputes_wait_for_judgement_and_city_matters_register_at_once() -> None:
    by_code = {c.code: c for c in load_default_categories()}
    disputes = [c for c in by_code.values() if c.major_code == "03"]
    assert disputes and not any(c.auto_register for c in disputes)
    assert Counter(c.start_tier for c in disputes).most_common(1)[0][0] is Tier.COMMUNITY
    assert by_code["0402"].start_tier is Tier.COMMUNITY and not by_code["0402"].auto_register
    assert by_code["0601"].start_tier is Tier.STREET and by_code["0601"].auto_register
    assert by_code["0901"].start_tier is Tier.STREET and by_code["0901"].auto_register
    assert by_code["0101"].start_tier is Tier.DISTRICT and by_code["0101"].auto_register
    assert by_code["1101"].start_tier is Tier.DISTRICT
