"""CountVectorsFeaturizer that keeps each token whole.

Rasa builds scikit-learn's CountVectorizer with token_pattern `\\b\\w+\\b`, which cuts Thai,
Lao, Khmer and Burmese words at every vowel sign or tone mark (combining marks are not `\\w`
for Python's `re`). The tokens are already words (components/tokenizer.py): split on spaces only.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Text

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import (
    CountVectorsFeaturizer,
)
from sklearn.feature_extraction.text import CountVectorizer

WHOLE_TOKEN = r"(?u)[^\s]+"


def _whole_tokens(
    vectorizers: Dict[Text, CountVectorizer], analyzer: Text
) -> Dict[Text, CountVectorizer]:
    if analyzer == "word":
        for vectorizer in vectorizers.values():
            vectorizer.token_pattern = WHOLE_TOKEN
    return vectorizers


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=True
)
class WholeTokenCountVectorsFeaturizer(CountVectorsFeaturizer):
    @classmethod
    def _create_shared_vocab_vectorizers(
        cls, parameters: Dict[Text, Any], vocabulary: Optional[Any] = None
    ) -> Dict[Text, CountVectorizer]:
        return _whole_tokens(
            super()._create_shared_vocab_vectorizers(parameters, vocabulary),
            parameters["analyzer"],
        )

    @classmethod
    def _create_independent_vocab_vectorizers(
        cls, parameters: Dict[Text, Any], vocabulary: Optional[Any] = None
    ) -> Dict[Text, CountVectorizer]:
        return _whole_tokens(
            super()._create_independent_vocab_vectorizers(parameters, vocabulary),
            parameters["analyzer"],
        )
