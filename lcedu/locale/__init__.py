"""The course in other languages: translation catalogs, the glossary and the course map's titles.

Data lives in `lcedu/locale/<lang>/` (JSON, plus the rendered `glossary.md`); the machinery
that writes translated notebooks from it is `lcedu.course.translate`.
"""
