from shared.runner import main

main("home_report")
