"""Code tables of special-group details (特殊人群): disability categories, assistance types …

Each is a `LabelledEnum` whose value is stored in the membership's `details` and whose Chinese
label is accepted on input and shown to staff.
"""

from __future__ import annotations

from gis.codes import LabelledEnum


class DisabilityCategory(LabelledEnum):
    """disability category"""

    # Declared in the order of the category digit (1–7) of the disability certificate number.
    VISUAL = "visual", "视力"
    HEARING = "hearing", "听力"
    SPEECH = "speech", "言语"
    PHYSICAL = "physical", "肢体"
    INTELLECTUAL = "intellectual", "智力"
    MENTAL = "mental", "精神"
    MULTIPLE = "multiple", "多重"


class AssistanceType(LabelledEnum):
    """assistance type"""

    MINIMUM_LIVING = "minimum_living", "低保"
    EXTREME_POVERTY = "extreme_poverty", "特困供养"
    NEAR_MINIMUM = "near_minimum", "低保边缘"
    TEMPORARY = "temporary", "临时救助"


class LeftBehindKind(LabelledEnum):
    """left-behind kind"""

    CHILD = "child", "留守儿童"
    ELDERLY = "elderly", "留守老人"


class HealthStatus(LabelledEnum):
    """health status"""

    HEALTHY = "healthy", "健康"
    CHRONIC = "chronic", "慢性病"
    PARTLY_DEPENDENT = "partly_dependent", "半失能"
    DEPENDENT = "dependent", "失能"


class EntitledCategory(LabelledEnum):
    """entitled-group category"""

    DISABLED_VETERAN = "disabled_veteran", "残疾军人"
    MARTYR_FAMILY = "martyr_family", "烈士遗属"
    DUTY_DEATH_FAMILY = "duty_death_family", "因公牺牲军人遗属"
    ILLNESS_DEATH_FAMILY = "illness_death_family", "病故军人遗属"
    DEMOBILISED = "demobilised", "在乡复员军人"
    ILL_VETERAN = "ill_veteran", "带病回乡退伍军人"
    WAR_VETERAN = "war_veteran", "参战参试退役人员"
    SERVING_FAMILY = "serving_family", "现役军人家属"
    OTHER = "other", "其他"


class CorrectionType(LabelledEnum):
    """community correction type"""

    CONTROL = "control", "管制"
    PROBATION = "probation", "缓刑"
    PAROLE = "parole", "假释"
    MEDICAL_PAROLE = "medical_parole", "暂予监外执行"


class MentalDiagnosis(LabelledEnum):
    """severe mental disorder diagnosis"""

    # The six disorders of the national management and treatment standard (管理治疗工作规范).
    SCHIZOPHRENIA = "schizophrenia", "精神分裂症"
    SCHIZOAFFECTIVE = "schizoaffective", "分裂情感性障碍"
    PARANOID = "paranoid", "偏执性精神病"
    BIPOLAR = "bipolar", "双相情感障碍"
    EPILEPSY = "epilepsy", "癫痫所致精神障碍"
    INTELLECTUAL = "intellectual", "精神发育迟滞伴发精神障碍"


class Treatment(LabelledEnum):
    """treatment"""

    HOME = "home", "居家治疗"
    OUTPATIENT = "outpatient", "门诊治疗"
    INPATIENT = "inpatient", "住院治疗"
    UNTREATED = "untreated", "未治疗"


class DrugRehabStatus(LabelledEnum):
    """drug rehabilitation status"""

    COMMUNITY_DETOX = "community_detox", "社区戒毒"
    COMMUNITY_REHAB = "community_rehab", "社区康复"
    ABSTINENT_3Y = "abstinent_3y", "戒断三年未复吸"


class KeyYouthCategory(LabelledEnum):
    """key youth category"""

    IDLE = "idle", "闲散青少年"
    MISBEHAVING = "misbehaving", "有不良行为青少年"
    VAGRANT = "vagrant", "流浪乞讨青少年"
    PRISONERS_CHILD = "prisoners_child", "服刑人员未成年子女"
    LEFT_BEHIND_IN_DIFFICULTY = "left_behind_in_difficulty", "农村留守困境儿童"
