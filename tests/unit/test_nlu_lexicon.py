"""Lexicons (nlu/lexicon/*.yml): validation, indicator phrases with negation, urgent phrases,
the keyword fallback and text normalisation, on small lexicons written here (and a check that
the project's own lexicons load)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from myanmar import converter

from bot.adapters.langid import LanguageDetector
from bot.adapters.nlu.errors import LexiconError
from bot.adapters.nlu.lexicon import (
    Lexicons,
    catalogue_ids,
    evidence,
    find_indicators,
    is_urgent,
    load_lexicons,
)
from bot.adapters.nlu.nlu import TextNlu
from bot.ports import Intent, NluEngine

PROJECT = Path(__file__).resolve().parents[2]
IDS = catalogue_ids(PROJECT / "flows" / "indicators.yaml")
DETECTOR = LanguageDetector()

LEXICONS = {
    "en": """
        language: en
        urgent: [help now, they will kill me, sos]
        intents:
          greet: [hi, hello, good morning]
          affirm: ["yes", ok, yep]
          deny: ["no", nope]
          want_go_home: [go home, back to my country]
          want_human: [real person, talk to someone]
          report_scam_loss: [lost my money, scammed]
          emergency: [dying, bleeding]
        negations: [not, never, "no", didn't, didnt, dont, don't]
        indicators:
          pen_documents_retained: [took my passport, took our passports, kept my passport]
          pen_physical_violence: [beat us, beat me, hit me, electric shock]
          dur_quota_targets: [missed the target, miss the target, quota]
          pen_confinement: [cannot leave, locked in]
    """,
    "th": """
        language: th
        urgent: [ช่วยด้วย]
        intents:
          greet: [สวัสดี, หวัดดี]
          want_go_home: [อยากกลับบ้าน]
        negations: [ไม่, ไม่ได้]
        indicators:
          pen_documents_retained: [ยึดพาสปอร์ต, ยึดหนังสือเดินทาง]
          pen_physical_violence: [ทำร้าย]
    """,
    "zh": """
        language: zh
        urgent: [救命]
        intents:
          want_go_home: [回家, 回国]
        negations: [没有, 沒有, 没, 不]
        indicators:
          pen_documents_retained: [拿走了我的护照, 护照被收走]
    """,
    "ko": """
        language: ko
        urgent: [살려주세요]
        negations: [안]
        negations_after: [않았, 않아]
        indicators:
          pen_documents_retained: [여권을 뺏]
    """,
    "ja": """
        language: ja
        negations_after: [ていない, ませんでした, なかった]
        indicators:
          pen_documents_retained: [パスポートを取られ]
    """,
    "my": """
        language: my
        urgent: [ကယ်ပါ]
        indicators:
          pen_documents_retained: [ပတ်စ်ပို့ ယူသွား]
    """,
}


def write(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for language, text in files.items():
        (directory / f"{language}.yml").write_text(textwrap.dedent(text), encoding="utf-8")
    return directory


@pytest.fixture(scope="module")
def lexicons(tmp_path_factory: pytest.TempPathFactory) -> Lexicons:
    return load_lexicons(write(tmp_path_factory.mktemp("lexicon"), LEXICONS), IDS)


@pytest.fixture(scope="module")
def nlu(lexicons: Lexicons) -> TextNlu:
    return TextNlu(lexicons, DETECTOR)


def found(lexicons: Lexicons, text: str, language: str | None) -> tuple[str, ...]:
    return find_indicators(text, lexicons.for_language(language))


# -- validation ------------------------------------------------------------------------------


def problems_of(tmp_path: Path, files: dict[str, str]) -> list[str]:
    with pytest.raises(LexiconError) as caught:
        load_lexicons(write(tmp_path / "lexicon", files), IDS)
    return caught.value.problems


def test_the_project_lexicons_load() -> None:
    lexicons = load_lexicons(PROJECT / "nlu" / "lexicon", IDS)
    assert lexicons.languages


def test_unknown_indicator_intent_and_key_are_named_with_the_file(tmp_path: Path) -> None:
    problems = problems_of(
        tmp_path,
        {
            "en": """
                language: en
                intents:
                  greet: [hi]
                  say_hello: [hello]
                indicators:
                  pen_documents_retained: [took my passport]
                  pen_passport_taken: [took my passport]
                urgency: [help]
            """
        },
    )
    assert any("en.yml" in p and "say_hello" in p and "unknown intent" in p for p in problems)
    assert any("en.yml" in p and "pen_passport_taken" in p for p in problems)
    assert any("en.yml" in p and "unknown key 'urgency'" in p for p in problems)
    assert len(problems) == 3


def test_language_must_match_the_file_name(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, {"th": "language: lo\nurgent: [ช่วยด้วย]\n"})
    assert problems == ["lexicon/th.yml: language is 'lo', but the file name says 'th'"]


def test_phrase_lists_are_checked(tmp_path: Path) -> None:
    problems = problems_of(
        tmp_path,
        {
            "en": """
                language: en
                urgent: help now
                negations: [not, "", not]
                indicators:
                  pen_confinement: [locked in, {a: b}, not]
                  pen_physical_violence: [true]
            """
        },
    )
    text = "\n".join(problems)
    assert "urgent: must be a list of phrases" in text
    assert "negations[1]: empty phrase" in text
    assert "negations[2]: 'not' is listed twice" in text
    assert "pen_confinement[1]: must be text, got dict" in text
    assert "indicators.pen_confinement: 'not' is also a negation cue" in text


def test_yes_and_no_are_words_not_booleans(lexicons: Lexicons) -> None:
    en = lexicons.by_language["en"]
    assert [p.text for p in en.intents[Intent.DENY]] == ["no", "nope"]
    assert "yes" in [p.text for p in en.intents[Intent.AFFIRM]]


def test_broken_yaml_names_the_line(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, {"en": "language: en\nurgent: [help\n  - x: ]\n"})
    assert len(problems) == 1
    assert problems[0].startswith("lexicon/en.yml, line ")
    assert "not valid YAML" in problems[0]


def test_an_empty_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(LexiconError, match="no lexicon files"):
        load_lexicons(tmp_path, IDS)


# -- indicators and negation -------------------------------------------------------------------


def test_several_indicators_in_one_message(lexicons: Lexicons) -> None:
    text = "they took my passport and beat us when we missed the target"
    assert found(lexicons, text, "en") == (
        "dur_quota_targets",
        "pen_documents_retained",
        "pen_physical_violence",
    )


def test_negation_before_the_phrase_cancels_it(lexicons: Lexicons) -> None:
    assert found(lexicons, "they did not take my passport", "en") == ()
    assert found(lexicons, "they never took my passport", "en") == ()
    assert found(lexicons, "they didn’t beat us", "en") == ()  # typographic apostrophe
    assert found(lexicons, "boss didnt hit me", "en") == ()


def test_negation_only_counts_shortly_before_and_in_the_same_clause(lexicons: Lexicons) -> None:
    assert found(lexicons, "no, they took my passport", "en") == ("pen_documents_retained",)
    assert found(lexicons, "i am not sure why but they took my passport", "en") == (
        "pen_documents_retained",
    )
    # a negation AFTER the phrase does not cancel it in English
    assert found(lexicons, "they took my passport, not my phone", "en") == (
        "pen_documents_retained",
    )
    # one negated mention and one plain: the plain one counts
    text = "they did not beat me. but they beat us yesterday"
    assert found(lexicons, text, "en") == ("pen_physical_violence",)


def test_whole_words_for_latin_substrings_for_thai_and_chinese(lexicons: Lexicons) -> None:
    assert found(lexicons, "the quotas are high", "en") == ()  # "quota" is not "quotas"
    assert found(lexicons, "QUOTA is crazy", "en") == ("dur_quota_targets",)
    assert found(lexicons, "เขายึดพาสปอร์ตของฉัน", "th") == ("pen_documents_retained",)
    assert found(lexicons, "他们拿走了我的护照", "zh") == ("pen_documents_retained",)


def test_negation_in_scripts_without_spaces(lexicons: Lexicons) -> None:
    assert found(lexicons, "เขาไม่ได้ยึดพาสปอร์ต", "th") == ()
    assert found(lexicons, "ไม่มีเงิน แต่เขายึดพาสปอร์ตของฉัน", "th") == ("pen_documents_retained",)
    assert found(lexicons, "他们没有拿走了我的护照", "zh") == ()


def test_negation_after_the_verb_in_japanese_and_korean(lexicons: Lexicons) -> None:
    assert found(lexicons, "パスポートを取られた", "ja") == ("pen_documents_retained",)
    assert found(lexicons, "パスポートを取られていない", "ja") == ()
    assert found(lexicons, "여권을 뺏겼어요", "ko") == ("pen_documents_retained",)
    assert found(lexicons, "여권을 뺏기지 않았어요", "ko") == ()


def test_evidence_names_the_phrase(lexicons: Lexicons) -> None:
    [item] = evidence("they did not take my passport, they kept my passport", lexicons.all())
    assert (item.indicator, item.phrase, item.negated) == (
        "pen_documents_retained",
        "kept my passport",
        False,
    )


def test_unknown_language_uses_every_lexicon(lexicons: Lexicons) -> None:
    assert found(lexicons, "เขายึดพาสปอร์ต and beat us", None) == (
        "pen_documents_retained",
        "pen_physical_violence",
    )
    assert found(lexicons, "เขายึดพาสปอร์ต", "en") == ()  # a known language: its lexicon only


# -- urgent phrases and the keyword fallback -------------------------------------------------


def test_urgent_phrase_forces_emergency(nlu: TextNlu) -> None:
    result = nlu.parse("hello, they will kill me", "en")
    assert result.urgent
    assert result.intent is Intent.EMERGENCY
    assert result.confidence == 1.0
    assert result.engine is NluEngine.KEYWORD


def test_urgent_phrases_of_every_language_count_and_ignore_negation(
    nlu: TextNlu, lexicons: Lexicons
) -> None:
    assert nlu.parse("ช่วยด้วย", "en").intent is Intent.EMERGENCY  # Thai typed, English chosen
    assert is_urgent("they will not kill me? help now", lexicons.all())


def test_keyword_fallback_picks_the_intent(nlu: TextNlu) -> None:
    assert nlu.parse("hello", "en").intent is Intent.GREET
    assert nlu.parse("i want to go home", "en").intent is Intent.WANT_GO_HOME
    assert nlu.parse("can i talk to someone", "en").intent is Intent.WANT_HUMAN
    assert nlu.parse("yes", "en").intent is Intent.AFFIRM
    assert nlu.parse("อยากกลับบ้าน", "th").intent is Intent.WANT_GO_HOME
    assert nlu.parse("what is the weather", "en").intent is Intent.OUT_OF_SCOPE
    assert nlu.parse("what is the weather", "en").confidence == 0.0


def test_keyword_fallback_prefers_a_description_over_a_short_answer(nlu: TextNlu) -> None:
    result = nlu.parse("no, they took my passport and locked in the room", "en")
    assert result.intent is Intent.DESCRIBE_SITUATION
    assert result.indicators == ("pen_confinement", "pen_documents_retained")
    assert 0 < result.confidence <= 1


# -- normalisation -----------------------------------------------------------------------------


def test_command_is_stripped(nlu: TextNlu) -> None:
    assert nlu.normalize("/start hello") == "hello"
    assert nlu.normalize("/help@screening_bot  ช่วยด้วย") == "ช่วยด้วย"
    assert nlu.normalize("and/or hello") == "and/or hello"
    assert nlu.parse("/start", "en").intent is Intent.OUT_OF_SCOPE


def test_nfc(nlu: TextNlu, lexicons: Lexicons) -> None:
    decomposed = "they took my passport".replace("o", "o\u0301")  # ó as o + combining acute
    assert nlu.normalize(decomposed) == "they tóók my passpórt"
    # Thai typed with the tone mark and vowel in the other order still matches after NFC
    assert nlu.parse("เขายึดพาสปอร์ต", "th").indicators == ("pen_documents_retained",)


def test_zawgyi_is_converted_before_matching(nlu: TextNlu) -> None:
    unicode = "ကျွန်တော့်ကို ကယ်ပါ။ သူတို့ ပတ်စ်ပို့ ယူသွားတယ်"
    zawgyi = converter.convert(unicode, "unicode", "zawgyi")
    assert zawgyi != unicode
    assert nlu.normalize(zawgyi) == unicode
    result = nlu.parse(zawgyi, "my")
    assert result.indicators == ("pen_documents_retained",)
    assert result.urgent
