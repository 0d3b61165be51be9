"""Counting-Stars (nick7nlp/Counting-Stars ``gen_test_data.ipynb``): stars counted in a haystack, in
English or Chinese, the acquisition and reasoning variants, lite and official styles."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

from harness.data import haystack
from harness.data.synthetic.common import (
    Sample,
    TokenCounter,
    _Haystack,
    _haystack_context,
    _sample_id,
    _too_short,
)


def counting_stars(params: dict[str, Any], rng: random.Random, tok: TokenCounter) -> list[Sample]:
    """Counting-Stars (Song et al., 2024), acquisition variant: ``num_needles`` sentences 'The
    little penguin counted N stars.' at evenly spaced depths; the answer is the counts in order.
    ``style: "official"``: see ``_counting_stars_official``."""
    if params["style"] == "official":
        return _counting_stars_official(params, rng, tok)
    samples = []
    m = params["num_needles"]
    for length in params["lengths"]:
        for index in range(params["samples_per_length"]):
            counts = [str(rng.randrange(1, 100)) for _ in range(m)]
            needles = [f"The little penguin counted {c} stars." for c in counts]
            depths = [(i + 0.5) / m for i in range(m)]
            context, n = _haystack_context(rng, tok, length, needles, depths)
            samples.append({
                "id": _sample_id(params["task"], length, index),
                "context": context, "query": "stars", "answers": counts,
                "length": length, "context_tokens": n,
            })
    return samples


# Counting-Stars' needles (gen_test_data.ipynb ``sentence_with_star``), each on its own line.
_STAR_NEEDLES = {
    ("en", "acquisition"): "\nThe little penguin counted {right} ★\n",
    ("en", "reasoning"): ("\nThe little penguin counted {wrong} ★, but found that a mistake had been made, so the "
                          "counting was done again, and this time {right} ★ was counted correctly.\n"),
    ("zh", "acquisition"): "\n小企鹅数了{right}颗★\n",
    ("zh", "reasoning"): "\n小企鹅数了{wrong}颗★，但发现数错了，于是又数了一遍，这次数对了，是{right}颗★\n",
}

# Chinese filler, standing in for Counting-Stars' The Story of the Stone: grammatical, meaningless
# sentences run together without spaces, as its haystack is.
_ZH_ADJECTIVES = ("安静的 明亮的 温和的 古老的 银色的 金色的 狭窄的 宽阔的 遥远的 隐秘的 耐心的 聪明的 "
                  "小心的 谦逊的 疲倦的 平静的 勇敢的 寒冷的 温暖的 年轻的").split()
_ZH_NOUNS = ("农夫 画家 水手 医生 孩子 学生 旅人 商人 面包师 诗人 猎人 歌手 船长 老师 邻居 渔夫 园丁 木匠 "
             "邮差 书生").split()
_ZH_OBJECTS = ("灯笼 桥梁 花园 窗户 桌子 村庄 港口 草地 城堡 蜡烛 山谷 小岛 图书馆 市场 厨房 篮子 镜子 "
               "梯子 毯子 瓶子").split()
_ZH_VERBS = "看见了 画下了 带走了 拜访了 穿过了 打开了 关上了 找到了 记住了 描述了 欣赏了 清洗了 修好了 测量了".split()
_ZH_PLACES = ("在古老的桥边 在漫长的冬天之前 在晨雨之后 在小镇里 在安静的湖畔 在高高的树下 在宽阔的田野上 "
              "在道路的尽头 在热闹的集市上 在狭窄的小路上 在石墙后面 在第一天").split()


def _zh_filler_sentences(rng: random.Random, count: int) -> list[str]:
    return [f"{rng.choice(_ZH_ADJECTIVES)}{rng.choice(_ZH_NOUNS)}{rng.choice(_ZH_PLACES)}{rng.choice(_ZH_VERBS)}"
            f"{rng.choice(_ZH_ADJECTIVES)}{rng.choice(_ZH_OBJECTS)}。" for _ in range(count)]


_STAR_HAYSTACKS: dict[str, tuple[Callable[[random.Random, int], list[str]], str]] = {
    "en": (haystack.filler_sentences, " "),
    "zh": (_zh_filler_sentences, ""),
}


# How a haystack's size is measured when not in tokens: Counting-Stars cuts its English essays by
# words (split on spaces) and its Chinese novel by characters.
_SIZE_MEASURES: dict[str, Callable[[str], int]] = {"words": lambda s: len(s.split()), "chars": len}


def _take_by_size(rng: random.Random, make: Callable[[random.Random, int], list[str]], size: int,
                  measure: Callable[[str], int]) -> list[str]:
    """Consecutive new sentences whose sizes sum to at most ``size`` (at least one)."""
    out: list[str] = []
    used = 0
    while True:
        for sentence in make(rng, 256):
            cost = measure(sentence)
            if out and used + cost > size:
                return out
            out.append(sentence)
            used += cost


def _miscounts(rng: random.Random, right: Sequence[int]) -> list[int]:
    """A wrong count beside each right one (Counting-Stars' r_stars are its a_stars +-1), never equal
    to a right count nor to another wrong one."""
    taken = set(right)
    wrong = []
    for count in right:
        step = 1
        while not (options := [c for c in (count - step, count + step) if c >= 1 and c not in taken]):
            step += 1
        choice = rng.choice(options)
        taken.add(choice)
        wrong.append(choice)
    return wrong


def _counting_stars_official(params: dict[str, Any], rng: random.Random, tok: TokenCounter) -> list[Sample]:
    """Counting-Stars (gen_test_data.ipynb): ``num_needles`` distinct counts below 4x their number
    (its 32 counts lie in 1..127); the haystack is cut into that many equal runs of sentences, each
    followed by a star sentence on its own line, so the last closes the context. The ``reasoning``
    variant first states a wrong count next to the right one (``wrong_counts``). English filler is
    joined by spaces, Chinese filler by nothing, as the official haystacks are. The haystack holds
    ``length`` minus the stars and ``reserve_tokens`` tokens, or, with ``size_unit`` words or chars,
    int(``length`` x ``size_scale``) words or characters besides the stars, as the official files
    are cut (0.8 x length words in English, 0.7 x length characters in Chinese)."""
    m = params["num_needles"]
    make, separator = _STAR_HAYSTACKS[params["language"]]
    needle = _STAR_NEEDLES[(params["language"], params["variant"])]
    samples = []
    for length in params["lengths"]:
        for index in range(params["samples_per_length"]):
            right = rng.sample(range(1, 4 * m), m)
            wrong = _miscounts(rng, right)
            needles = [needle.format(right=r, wrong=w) for r, w in zip(right, wrong)]
            if params["size_unit"] == "tokens":
                room = length - params["reserve_tokens"] - sum(tok.count_many(needles))
                if room <= 0:
                    raise _too_short(length, f"{m} star sentences")
                sentences = _Haystack(rng, tok, make, separator).take(room)
            else:
                size = int(length * params["size_scale"])
                sentences = _take_by_size(rng, make, size, _SIZE_MEASURES[params["size_unit"]])
            parts, start = [], 0
            for i, text in enumerate(needles):
                end = round((i + 1) * len(sentences) / m)
                parts.append(separator.join(sentences[start:end]) + text)
                start = end
            context = "".join(parts)
            sample = {"id": _sample_id(params["task"], length, index), "context": context,
                      "answers": [str(r) for r in right], "length": length,
                      "context_tokens": tok.count_many([context])[0]}
            if params["variant"] == "reasoning":
                sample["wrong_counts"] = [str(w) for w in wrong]
            samples.append(sample)
    return samples
