from shared.entrypoints.runner import main

main("control_api")
