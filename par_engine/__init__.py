"""par_engine"""
