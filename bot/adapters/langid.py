"""Language detection policy (architecture.md): script first, Zawgyi, then langdetect for
Latin text gated on the number of letters, a Telegram language_code as a prior, and "unsure"
when a careful person could not tell either.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import langdetect
from langdetect.detector_factory import DetectorFactory
from langdetect.lang_detect_exception import LangDetectException
from myanmar import converter
from myanmartools import ZawgyiDetector

from bot.domain.scripts import script_counts
from bot.ports import Detection

# Scripts used by one language we serve, or (for those we do not serve) its main language.
SCRIPT_LANGUAGE = {
    "Thai": "th",
    "Lao": "lo",
    "Khmer": "km",
    "Myanmar": "my",
    "Hangul": "ko",
    "Han": "zh",
    "Hiragana": "ja",
    "Katakana": "ja",
    "Devanagari": "hi",
    "Bengali": "bn",
    "Sinhala": "si",
    "Cyrillic": "ru",
    "Ethiopic": "am",
    "Arabic": "ar",
    "Tamil": "ta",
    "Telugu": "te",
    "Kannada": "kn",
    "Malayalam": "ml",
    "Gujarati": "gu",
    "Gurmukhi": "pa",
    "Oriya": "or",
    "Georgian": "ka",
    "Armenian": "hy",
    "Hebrew": "he",
    "Greek": "el",
    "Tibetan": "bo",
}
LATIN_SERVED = ("en", "id", "tl", "vi")  # langdetect has no Malay profile: see _malay()
LATIN_LANGUAGES = frozenset({*LATIN_SERVED, "ms"})
_NON_LATIN_PRIORS = frozenset(SCRIPT_LANGUAGE.values())
MIN_LATIN_LETTERS = 12  # below this langdetect is a guess, whatever probability it reports
MIN_LATIN_LETTERS_WITH_PRIOR = 5  # when the prior agrees with langdetect
MIN_SCRIPT_LETTERS = 2
ZAWGYI_THRESHOLD = 0.95
ZAWGYI_MIN_LETTERS = 10  # short Unicode Burmese ("မသိပါဘူး") can score as Zawgyi

_COMMAND = re.compile(r"^/\w+(@\w+)?\s*")
_NOISE = re.compile(r"https?://\S+|www\.\S+|@\w+|\S+@\S+")
_WORD = re.compile(r"[^\W\d_]+")
# Words that say nothing about a language on their own (loanwords everyone types).
_UNINFORMATIVE = frozenset(
    """
    ok okay oke okey hi hello helo hey help sos yes no pls please thanks thank thx
    passport visa boss police money job crypto company target lol haha
    """.split()
)
_VIETNAMESE = re.compile(r"[ăđơưĂĐƠƯ\u1EA0-\u1EF9]")


# langdetect confuses Indonesian, Malay and Tagalog on short texts (and has no Malay profile),
# and reads romanised Thai or Burmese as anything. Latin text is decided only when it holds
# everyday words of the language guessed; a few words used by only one language settle the
# Indonesian / Malay / Tagalog question. (Word lists, not models: easy to read and extend.)
def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_MARKERS: dict[str, frozenset[str]] = {
    "malay_group": _words("""saya tolong bantu pulang kerja sudah belum dengan yang tapi ini
        itu kita kami dia mereka paspor diambil ambil majikan sini sana terima kasih takut
        habis tertipu rakyat bos pukul"""),
    "id": _words("""tidak mau bisa uang aku kamu gimana dong banget nggak gak enggak udah
        kenapa gaji indonesia wni kbri rupiah karena gue gw aja sih kok deh nih"""),
    "ms": _words("""nak tak boleh duit kat awak macam sikit takde kena dah tolonglah pasal ye
        ni ke betul diorang korang pelaburan malaysia kedutaan sebab je la ringgit"""),
    "tl": _words("""ako ko mo po nyo namin ang ng mga hindi wala tulong tulungan pera uwi
        gusto kasi lang naman salamat opo paano nasaan amo dito ba ito itong totoo yung
        niyo akin ninyo sila siya kayo tayo nasa bakit pwede trabaho kuya ate nila ayaw"""),
    "en": _words("""the i my me you we they is are was were to and of in on at for with not
        can need want took take have has do did am what where how this that it there here
        get lost home go going our your their"""),
    "vi": _words("""toi ban khong duoc cua la va co giup voi nha em anh chi oi roi lam"""),
}


def _support(language: str, words: list[str]) -> int:
    """How many everyday words of the language the text holds."""
    lexicon = _MARKERS.get(language, frozenset())
    if language in ("id", "ms"):
        lexicon = lexicon | _MARKERS["malay_group"]
        return sum(1 for w in words if w in lexicon or w.endswith("nya"))
    return sum(1 for w in words if w in lexicon)


# Characters written only in Simplified or only in Traditional Chinese (common ones).
_SIMPLIFIED = frozenset("们这来说国会时为个没钱护帮请让对过还里后问么买卖钟见爱关门开长东车书学习")
_TRADITIONAL = frozenset("們這來說國會時為個沒錢護幫請讓對過還裡後問麼買賣鐘見愛關門開長東車書學習")


def base(code: str | None) -> str | None:
    """'zh-hant' -> 'zh', 'en_US' -> 'en'."""
    if not code:
        return None
    return re.split(r"[-_]", code.strip().lower())[0] or None


class LanguageDetector:
    """Loaded once (langdetect's profiles and the Zawgyi model); safe to share between threads."""

    def __init__(self, seed: int = 0) -> None:
        profiles = Path(langdetect.__file__).parent / "profiles"
        factory = DetectorFactory()
        factory.load_json_profile([(profiles / code).read_text("utf-8") for code in LATIN_SERVED])
        factory.set_seed(seed)
        self._factory = factory
        self._zawgyi = ZawgyiDetector()

    # -- Burmese ---------------------------------------------------------------------------
    def is_zawgyi(self, text: str) -> bool:
        myanmar_letters = script_counts(text).get("Myanmar", 0)
        if myanmar_letters < ZAWGYI_MIN_LETTERS:
            return False
        return bool(self._zawgyi.get_zawgyi_probability(text) >= ZAWGYI_THRESHOLD)

    def normalize(self, text: str) -> str:
        """NFC, and Zawgyi-encoded Burmese converted to Unicode (before NLU and storage)."""
        text = unicodedata.normalize("NFC", text)
        if self.is_zawgyi(text):
            text = unicodedata.normalize("NFC", converter.convert(text, "zawgyi", "unicode"))
        return text

    # -- the policy ------------------------------------------------------------------------
    def detect(self, text: str, prior: str | None = None) -> Detection:
        text = _NOISE.sub(" ", _COMMAND.sub("", unicodedata.normalize("NFC", text)))
        counts = script_counts(text)
        if not counts:
            return Detection(None, 0.0, None)
        latin = counts.get("Latin", 0)
        others = {s: n for s, n in counts.items() if s != "Latin"}
        prior_base = base(prior)
        if sum(others.values()) >= MIN_SCRIPT_LETTERS:
            return self._by_script(text, others, prior_base)
        return self._latin(text, latin, prior_base)

    def _by_script(self, text: str, others: dict[str, int], prior: str | None) -> Detection:
        kana = others.get("Hiragana", 0) + others.get("Katakana", 0)
        if kana or (prior == "ja" and set(others) == {"Han"}):
            cjk = kana + others.get("Han", 0)
            script = max(("Hiragana", "Katakana", "Han"), key=lambda s: others.get(s, 0))
            return Detection("ja", round(cjk / sum(others.values()), 3), script)
        script = max(others, key=lambda s: others[s])
        share = others[script] / sum(others.values())
        language = SCRIPT_LANGUAGE.get(script)
        if language is None:
            return Detection(None, 0.0, script)
        if prior and prior != language and _same_script(prior, script):
            language = prior  # e.g. Devanagari with a Nepali phone: ne, not hi
        variant = _chinese_variant(text) if language == "zh" else None
        return Detection(language, round(share, 3), script, variant)

    def _latin(self, text: str, letters: int, prior: str | None) -> Detection:
        words = [w.lower() for w in _WORD.findall(text)]
        if not words or all(w in _UNINFORMATIVE for w in words):
            return Detection(None, 0.0, "Latin")
        if _VIETNAMESE.search(text) and letters >= 3:
            return Detection("vi", 0.95, "Latin")
        guess, probability = self._langdetect(text)
        guess = _settle_malay_group(words, guess, prior)
        plainly_english = (
            guess == "en"
            and probability >= 0.95
            and letters >= MIN_LATIN_LETTERS
            and _support("en", words) >= 2
        )
        if prior in _NON_LATIN_PRIORS and not plainly_english:
            # Romanised Thai or Burmese from a phone set to that language is that language.
            return Detection(prior, 0.6, "Latin")
        if guess is None or _support(guess, words) == 0:
            return Detection(None, 0.0, "Latin")  # e.g. romanised Thai with no prior
        if letters >= MIN_LATIN_LETTERS:
            return Detection(guess, round(probability, 3), "Latin")
        if prior and letters >= MIN_LATIN_LETTERS_WITH_PRIOR and guess == prior:
            return Detection(prior, round(probability, 3), "Latin")
        return Detection(None, 0.0, "Latin")

    def _langdetect(self, text: str) -> tuple[str | None, float]:
        detector = self._factory.create()
        detector.append(text)
        try:
            best = detector.get_probabilities()[0]
        except (LangDetectException, IndexError):
            return None, 0.0
        return str(best.lang), float(best.prob)


_SCRIPT_SIBLINGS = {
    "Devanagari": {"hi", "ne", "mr"},
    "Cyrillic": {"ru", "uk", "kk", "ky", "bg", "sr", "mn"},
    "Arabic": {"ar", "ur", "fa", "ps"},
    "Ethiopic": {"am", "ti"},
    "Bengali": {"bn", "as"},
    "Myanmar": {"my", "shn", "ksw"},
}


def _same_script(language: str, script: str) -> bool:
    return language in _SCRIPT_SIBLINGS.get(script, set())


def _chinese_variant(text: str) -> str | None:
    simplified = sum(1 for c in text if c in _SIMPLIFIED)
    traditional = sum(1 for c in text if c in _TRADITIONAL)
    if simplified == traditional:
        return None
    return "Hans" if simplified > traditional else "Hant"


def _settle_malay_group(words: list[str], guess: str | None, prior: str | None) -> str | None:
    """Between Indonesian, Malay and Tagalog, let the telling words decide."""
    if guess not in (None, "id", "tl", "en"):
        return guess
    hits = {
        name: sum(1 for w in words if w in _MARKERS[name])
        for name in ("malay_group", "id", "ms", "tl")
    }
    hits["malay_group"] += sum(1 for w in words if w.endswith("nya"))
    malay = hits["malay_group"] + hits["id"] + hits["ms"]
    if hits["tl"] > malay:
        return "tl" if guess != "en" or hits["tl"] >= 2 else guess
    if malay > hits["tl"] and (guess != "en" or malay >= 2):
        if hits["ms"] != hits["id"]:
            return "ms" if hits["ms"] > hits["id"] else "id"
        return prior if prior in ("id", "ms") else "id"
    return guess
