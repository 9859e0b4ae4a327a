from shared.runner import main

main("control_api")
