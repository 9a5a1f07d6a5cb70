"""Turning a model into answers: BioASQ Phase-B submissions and PubMedQA predictions.

* yes/no (and PubMedQA yes/no/maybe): the option whose text the model finds
  most likely after the prompt (sum of token log-probabilities); no sampling,
  no parsing of free text.  Ties go to the first option.
* factoid: up to ``factoid_candidates`` ranked names.  The most likely first
  tokens after the prompt are each continued greedily, which gives distinct
  candidates; they are ranked by the log-likelihood of their whole
  continuation including its closing EOS (a cheap stand-in for beam search
  that works with any greedy ``generate``).
* list: one greedy generation split on ``;``/line breaks, cleaned and
  deduplicated.
* ideal answer: one greedy generation of at most ``max_ideal_tokens`` tokens
  (and 200 words), prompted for prose.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from biomamba.eval.bioasq.data import Question
from biomamba.eval.bioasq.submission import Answer, cap_words
from biomamba.eval.decoding import DecodingConfig
from biomamba.eval.prompting import TokenizerLike
from biomamba.eval.pubmedqa.data import PUBMEDQA_LABELS, PubMedQAItem
from biomamba.eval.qa_formats import bioasq_prompt, clean_item, first_line, pubmedqa_prompt, split_list_items
from biomamba.eval.scoring import ScoringModel


def choose_option(model: ScoringModel, tokenizer: TokenizerLike, prompt_ids: list[int], options: Iterable[str]):
    """The most likely option text after the prompt, and every option's log-likelihood."""
    options = list(options)
    scores = model.logprobs(prompt_ids, [tokenizer.encode(" " + o) for o in options])
    best = max(range(len(options)), key=lambda i: (scores[i], -i))
    return options[best], dict(zip(options, scores))


def generate_text(model: ScoringModel, tokenizer: TokenizerLike, prompt_ids: list[int], max_new_tokens: int) -> str:
    return tokenizer.decode(model.generate(prompt_ids, max_new_tokens, tokenizer.eos_id)).strip()


def factoid_candidates(
    model: ScoringModel, tokenizer: TokenizerLike, prompt_ids: list[int], n: int, max_new_tokens: int
) -> list[tuple[str, float]]:
    """Up to ``n`` distinct (name, log-likelihood) candidates, most likely first."""
    first = model.next_token_logprobs(prompt_ids)
    first[tokenizer.eos_id] = float("-inf")
    # Branch on twice as many first tokens: some continue into the same name or into nothing.
    branches = first.topk(min(2 * n, first.numel() - 1)).indices.tolist()
    best: dict[str, tuple[str, float]] = {}
    for token in branches:
        rest = model.generate(prompt_ids + [token], max_new_tokens - 1, tokenizer.eos_id)
        name = clean_item(first_line(tokenizer.decode([token] + rest)).split(";")[0])
        if not name:
            continue
        # A finished answer is scored with its closing EOS, so a name is not
        # credited with the probability of longer answers it is a prefix of.
        finished = len(rest) < max_new_tokens - 1
        score = model.logprob(prompt_ids, [token] + rest + ([tokenizer.eos_id] if finished else []))
        key = name.lower()
        if key not in best or score > best[key][1]:
            best[key] = (name, score)
    return sorted(best.values(), key=lambda c: -c[1])[:n]


def answer_bioasq_question(
    model: ScoringModel, tokenizer: TokenizerLike, question: Question, settings: DecodingConfig
) -> Answer:
    """Exact answer (by type) and ideal answer for one question."""
    answer = Answer(id=question.id, type=question.type)

    def prompt(kind: str) -> list[int]:
        return bioasq_prompt(tokenizer, question, kind, settings.max_prompt_tokens, settings.repeat_question).ids

    if question.type == "yesno":
        answer.exact, answer.extra["logprob"] = choose_option(model, tokenizer, prompt("exact"), ("yes", "no"))
    elif question.type == "factoid":
        cands = factoid_candidates(
            model, tokenizer, prompt("exact"), settings.factoid_candidates, settings.max_exact_tokens
        )
        answer.exact = [name for name, _ in cands]
        answer.extra["logprob"] = [score for _, score in cands]
    elif question.type == "list":
        answer.exact = split_list_items(generate_text(model, tokenizer, prompt("exact"), settings.max_exact_tokens))
    if settings.ideal_answers:
        ideal = generate_text(model, tokenizer, prompt("ideal"), settings.max_ideal_tokens)
        answer.ideal = cap_words(" ".join(ideal.split()))
    return answer


def answer_bioasq(
    model: ScoringModel,
    tokenizer: TokenizerLike,
    questions: list[Question],
    settings: DecodingConfig | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[Answer]:
    settings = settings or DecodingConfig()
    answers = []
    for i, q in enumerate(questions):
        answers.append(answer_bioasq_question(model, tokenizer, q, settings))
        if progress:
            progress(i + 1, len(questions))
    return answers


def answer_pubmedqa(
    model: ScoringModel,
    tokenizer: TokenizerLike,
    items: list[PubMedQAItem],
    settings: DecodingConfig | None = None,
) -> dict[str, str]:
    """{PMID: "yes" | "no" | "maybe"} by comparing the three answers' likelihoods."""
    settings = settings or DecodingConfig()
    out = {}
    for item in items:
        ids = pubmedqa_prompt(tokenizer, item, settings.max_prompt_tokens, settings.repeat_question).ids
        out[item.pmid], _ = choose_option(model, tokenizer, ids, PUBMEDQA_LABELS)
    return out
