"""Lesson 08's demos: the job service (``asyncio-jobservice``), driving it as a subprocess,
its log as a timeline, drain-deadline sweeps in virtual time, and the pitfalls' child scripts.

The job service's own modules (``jobservice``) import only the standard library and
``patterns``, so the console script starts fast; the plotting demos load on first use.
"""
