"""A Rasa tokenizer that splits words in scripts written without spaces.

Rasa's WhitespaceTokenizer returns a whole Thai, Lao, Khmer or Chinese sentence as one token
and refuses `language: th` or `zh`. This one tokenizes like the WhitespaceTokenizer (Latin,
Hangul, ...) and then segments each token that holds Thai, Lao, Khmer, Burmese, Chinese or
Japanese text into words (components/segment.py).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.training_data.message import Message

from components.segment import Segmenter, needs_segmenting


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False
)
class ScriptAwareTokenizer(WhitespaceTokenizer):
    @staticmethod
    def not_supported_languages() -> Optional[List[Text]]:
        return None

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {**WhitespaceTokenizer.get_default_config(), "use_icu": True}

    def __init__(self, config: Dict[Text, Any]) -> None:
        super().__init__(config)
        self._segmenter = Segmenter(use_icu=bool(self._config.get("use_icu", True)))

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "ScriptAwareTokenizer":
        return cls(config)

    def tokenize(self, message: Message, attribute: Text) -> List[Token]:
        tokens = super().tokenize(message, attribute)
        result: List[Token] = []
        for token in tokens:
            if not needs_segmenting(token.text):
                result.append(token)
                continue
            for start, end in self._segmenter.spans(token.text):
                result.append(Token(token.text[start:end], token.start + start))
        return result or tokens
