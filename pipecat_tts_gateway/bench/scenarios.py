"""The texts every door and every peer speaks, so each row of a table says the same words."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

# Engine under test → the language whose text the default routes send to it.
ENGINE_LANGUAGES = {"kokoro": "en", "piper": "ru"}


@dataclass(frozen=True)
class Scenario:
    """One text in one language.

    Attributes:
        name: "greeting", "turn" (an LLM-style turn of three sentences) or "paragraph".
        language: "en" (Kokoro) or "ru" (Piper).
        text: What is spoken.
    """

    name: str
    language: str
    text: str


_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "greeting": "Hello! How can I help you today?",
        "turn": (
            "Sure, I can help you with that. Your appointment is booked for Tuesday at ten "
            "in the morning with doctor Miller. Is there anything else you would like to know?"
        ),
        "paragraph": (
            "Thank you for calling the city medical center. Our clinic is open from eight in "
            "the morning until eight in the evening on weekdays, and from nine until three on "
            "Saturdays. If you would like to book, change or cancel an appointment, I can do "
            "that for you right now, and you will receive a confirmation message within a few "
            "minutes. Please have your insurance card ready, because we will need the policy "
            "number and the name of the main holder. For test results, the laboratory usually "
            "needs two or three working days, and your doctor will call you if anything needs "
            "attention. Parking is free for patients in the lot behind the main building, and "
            "the entrance for wheelchairs is on the left side, next to the pharmacy. If this "
            "is an emergency, please hang up and dial the emergency number immediately. "
            "Otherwise, tell me in a few words how I can help, and I will find the right "
            "person or the earliest free time for you."
        ),
    },
    "ru": {
        "greeting": "Здравствуйте! Чем я могу вам помочь?",
        "turn": (
            "Конечно, я могу вам помочь. Ваша запись подтверждена на вторник, на десять часов "
            "утра, к доктору Миллеру. Хотите узнать что-нибудь ещё?"
        ),
        "paragraph": (
            "Спасибо, что позвонили в городской медицинский центр. Наша клиника работает с "
            "восьми утра до восьми вечера по будням и с девяти до трёх по субботам. Если вы "
            "хотите записаться на приём, перенести или отменить его, я могу сделать это прямо "
            "сейчас, и через несколько минут вы получите сообщение с подтверждением. Пожалуйста, "
            "приготовьте полис страхования, потому что нам понадобится его номер и фамилия "
            "владельца. Результаты анализов лаборатория обычно готовит за два или три рабочих "
            "дня, и ваш врач позвонит вам, если что-то потребует внимания. Парковка для "
            "пациентов бесплатная, она находится за главным зданием, а вход для колясок "
            "расположен слева, рядом с аптекой. Если у вас что-то срочное, пожалуйста, "
            "положите трубку и наберите номер экстренной службы. В остальных случаях коротко "
            "расскажите, чем я могу помочь, и я найду нужного специалиста или ближайшее "
            "свободное время."
        ),
    },
}

SCENARIO_NAMES = ("greeting", "turn", "paragraph")


def scenarios(engine: str) -> list[Scenario]:
    """The three scenarios in the language routed to `engine`."""
    language = ENGINE_LANGUAGES[engine]
    return [Scenario(name, language, _TEXTS[language][name]) for name in SCENARIO_NAMES]


def scenario(engine: str, name: str) -> Scenario:
    """One named scenario for `engine`."""
    return next(s for s in scenarios(engine) if s.name == name)


_EN_SUBJECTS = ("appointment", "order", "ticket", "booking", "delivery", "request", "visit")
_EN_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
_RU_SUBJECTS = ("запись", "заявка", "доставка", "бронь", "встреча")
_RU_DAYS = ("понедельник", "вторник", "среду", "четверг", "пятницу")


def varied_texts() -> Iterator[str]:
    """Endless short texts of varying length, two English to one Russian.

    Every text differs (a running number), so input shapes vary the way real traffic does:
    that is what makes ONNX Runtime's arena grow if it is going to.
    """
    for i in itertools.count(1):
        if i % 3 == 0:
            subject, day = _RU_SUBJECTS[i % len(_RU_SUBJECTS)], _RU_DAYS[i % len(_RU_DAYS)]
            yield f"Ваша {subject} номер {i} подтверждена на {day}." + " Спасибо!" * (i % 2)
        else:
            subject, day = _EN_SUBJECTS[i % len(_EN_SUBJECTS)], _EN_DAYS[i % len(_EN_DAYS)]
            extra = " Please arrive ten minutes early." if i % 4 == 1 else ""
            yield f"Your {subject} number {i} is confirmed for {day} at {i % 12 + 1}.{extra}"
