"""The language-detection policy and Burmese Zawgyi handling."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from myanmar import converter

from bot.adapters.langid import LanguageDetector
from tests.support import ROOT

DETECTOR = LanguageDetector()


@pytest.mark.parametrize(
    ("text", "language", "script"),
    [
        ("ช่วยด้วย", "th", "Thai"),
        ("ຊ່ວຍແດ່", "lo", "Lao"),
        ("ជួយខ្ញុំផង", "km", "Khmer"),
        ("ကူညီပါ", "my", "Myanmar"),
        ("도와주세요", "ko", "Hangul"),
        ("助けてください", "ja", "Hiragana"),
        ("我想回家", "zh", "Han"),
        ("請幫幫我們", "zh", "Han"),
        ("मदद चाहिए", "hi", "Devanagari"),
        ("আমাকে সাহায্য করুন", "bn", "Bengali"),
        ("මට උදව් කරන්න", "si", "Sinhala"),
        ("помогите мне", "ru", "Cyrillic"),
        ("እርዳታ እፈልጋለሁ", "am", "Ethiopic"),
        ("cứu tôi", "vi", "Latin"),
        ("please help me, they took my passport", "en", "Latin"),
        ("tolong saya, paspor saya diambil bos", "id", "Latin"),
        ("tulungan nyo po ako kinuha nila passport ko", "tl", "Latin"),
    ],
)
def test_script_and_language(text: str, language: str, script: str) -> None:
    found = DETECTOR.detect(text)
    assert (found.language, found.script) == (language, script)
    assert found.confidence > 0.5


def test_chinese_variant() -> None:
    assert DETECTOR.detect("请帮帮我们").variant == "Hans"
    assert DETECTOR.detect("請幫幫我們").variant == "Hant"


@pytest.mark.parametrize("text", ["ok", "hi", "help", "SOS", "555", "😭🙏", "passport", "???", ""])
def test_unsure(text: str) -> None:
    assert DETECTOR.detect(text).language is None
    assert DETECTOR.detect(text, "th").language is None


def test_code_switching_keeps_the_non_latin_language() -> None:
    assert DETECTOR.detect("เขายึด passport ผม").language == "th"
    assert DETECTOR.detect("boss က passport ယူထားတယ်").language == "my"


def test_romanised_text_follows_a_non_latin_prior() -> None:
    assert DETECTOR.detect("chuay duay").language is None
    assert DETECTOR.detect("chuay duay", "th").language == "th"
    assert DETECTOR.detect("ku nyi par", "my").language == "my"
    # plainly English from a Thai phone stays English
    assert DETECTOR.detect("I need help please, they took my passport", "th").language == "en"


def test_prior_helps_short_latin_text_only_when_it_agrees() -> None:
    assert DETECTOR.detect("tolong saya", "id").language == "id"
    assert DETECTOR.detect("cứu", "en").language == "vi"  # the text wins over the prior


def test_prior_refines_a_shared_script() -> None:
    assert DETECTOR.detect("मलाई मद्दत चाहिन्छ", "ne").language == "ne"


def test_malay_is_told_from_indonesian() -> None:
    assert DETECTOR.detect("saya nak balik rumah, boleh tolong saya tak").language == "ms"


UNICODE = "ကျွန်တော့်ကို ကူညီပါ။ သူတို့ ပတ်စ်ပို့ ယူသွားတယ်"


def test_zawgyi_is_converted_to_unicode() -> None:
    zawgyi = converter.convert(UNICODE, "unicode", "zawgyi")
    assert zawgyi != UNICODE
    assert DETECTOR.is_zawgyi(zawgyi)
    assert DETECTOR.normalize(zawgyi) == UNICODE
    assert DETECTOR.detect(DETECTOR.normalize(zawgyi)).language == "my"


@pytest.mark.parametrize("text", [UNICODE, "မသိပါဘူး", "ကျေးဇူးတင်ပါတယ်", "ဟုတ်ကဲ့"])
def test_unicode_burmese_is_left_alone(text: str) -> None:
    assert not DETECTOR.is_zawgyi(text)
    assert DETECTOR.normalize(text) == text


def test_detect_language_command() -> None:
    lines = "ช่วยด้วย\nok\nchuay duay\n"
    out = subprocess.run(
        [sys.executable, "-m", "bot", "detect-language", "--prior", "th"],
        input=lines,
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    ).stdout.splitlines()
    results = [json.loads(line) for line in out]
    assert results[0] == {"language": "th", "confidence": 1.0, "script": "Thai"}
    assert results[1]["language"] is None
    assert results[2]["language"] == "th"
