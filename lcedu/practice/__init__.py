"""The lesson's practical guide (§6): choosing a method, chunking, memory tricks.

Import from the submodules: ``lcedu.practice.guide``, ``lcedu.practice.chunking``,
``lcedu.practice.memory_tricks``.
"""
