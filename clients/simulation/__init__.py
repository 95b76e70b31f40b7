"""sawgrid simulate: the paper's one-week experiment"""
