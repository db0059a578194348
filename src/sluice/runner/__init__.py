"""Running task instances: context, templates, execute, XCom, retries, callbacks."""
