"""The one normaliser for list names and queries: scripts, honorifics, legal forms, order, phonetics."""

from __future__ import annotations

from netfin.aml.screening.normalise import fold, forms, phonetic_key, skeleton_key, sorted_key


def test_han_names_become_pinyin_in_both_spellings() -> None:
    assert forms("习近平") == (("xi", "jinping"), ("xi", "jin", "ping"))
    assert forms("欧阳娜娜")[0] == ("ouyang", "nana")  # a compound surname stays one token
    assert fold("中国石化有限公司") == "zhong guo shi hua"  # the company suffix goes first


def test_cyrillic_and_arabic_are_transliterated() -> None:
    assert fold("Владимир Путин") == "vladimir putin"
    assert fold("محمد") == "mhmd"
    assert phonetic_key("mhmd") == phonetic_key("muhammad") == phonetic_key("mohammed")
    assert skeleton_key("abdulhamid") == skeleton_key("bdlhmd")


def test_honorifics_titles_punctuation_and_legal_forms_are_dropped() -> None:
    assert fold("Dr. Ayman AL-ZAWAHIRI") == "ayman al zawahiri"
    assert fold("Sheikh Haji Mullah Omar") == "omar"
    assert fold("General Qasem SOLEIMANI") == "qasem soleimani"
    assert fold("ANGLO-CARIBBEAN CO., LTD.") == "anglo caribbean"
    assert fold("MUSA, Rifa'i Ahmad Taha") == "musa rifai ahmad taha"
    assert fold("Sheikh") == "sheikh"  # never emptied


def test_token_order_is_kept_in_a_form_but_not_in_its_sorted_key() -> None:
    assert fold("PUTIN, Vladimir") == "putin vladimir"
    assert sorted_key(forms("PUTIN, Vladimir")[0]) == sorted_key(forms("Vladimir Putin")[0])


def test_accents_and_case_fold_away() -> None:
    assert fold("José Ñúñez MÜLLER") == "jose nunez muller"
