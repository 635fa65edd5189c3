def disable_xformers():
    pass
