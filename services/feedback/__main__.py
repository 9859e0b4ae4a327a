from shared.entrypoints.runner import main

main("feedback")
