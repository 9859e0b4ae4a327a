from shared.entrypoints.runner import main

main("home_report")
