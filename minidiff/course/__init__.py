"""The course's apparatus: what the lessons show and check. plot (figures), widgets (sliders), check
(the exercise checkers), nfe (quality against network evaluations, lessons 07-08) and beyond (lesson
12's experiments). Nothing below imports from here.
"""
