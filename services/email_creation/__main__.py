from shared.entrypoints.runner import main

main("email_creation")
